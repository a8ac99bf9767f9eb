/**
 * Records in bulk over a {@link Store}: the export that backups and reports read, and the import of a restore.
 * The JSON driver's side of the port's `exportRecords` / `importRecords`.
 */
import type { Entity, ImportOptions, RecordSnapshot, RecordSource } from '../../../repositories/port.js';
import type { Store } from './store.js';

/** How many records an export hands over per turn of the event loop. */
const EXPORT_BATCH = 2000;

/** A snapshot over `copy`, a copy of the store's records that the snapshot owns (`close` empties it). */
export function snapshotOf(copy: Map<string, readonly Entity[]>): RecordSnapshot {
  return {
    counts: Object.fromEntries([...copy].map(([collection, records]) => [collection, records.length])),
    async *records(collection: string) {
      const records = copy.get(collection) ?? [];
      for (let i = 0; i < records.length; i += EXPORT_BATCH) {
        yield* records.slice(i, i + EXPORT_BATCH);
        // Let requests in between: a large export must not hold the event loop.
        await new Promise((resolve) => setImmediate(resolve));
      }
    },
    close: async () => copy.clear(),
  };
}

/** Every record of `store` at one consistent moment. */
export async function exportStore(store: Store): Promise<RecordSnapshot> {
  return snapshotOf(await store.records());
}

/**
 * Replaces every collection of `store` with `source`'s records (see `StoragePort.importRecords`). The source is read
 * whole first, outside the lock; the kept collections and `beforeReplace` see the store under it.
 */
export async function importIntoStore(store: Store, source: RecordSource, options: ImportOptions = {}): Promise<Record<string, number>> {
  const { keep = new Set<string>(), beforeReplace } = options;
  const incoming = new Map<string, Entity[]>();
  for (const collection of store.collections) {
    if (keep.has(collection)) continue;
    const records: Entity[] = [];
    for await (const record of source(collection)) records.push(record);
    incoming.set(collection, records);
  }
  let counts: Record<string, number> = {};
  await store.replaceAll(async (current) => {
    if (beforeReplace) {
      const snapshot = snapshotOf(new Map(current));
      try {
        await beforeReplace(snapshot);
      } finally {
        await snapshot.close();
      }
    }
    const next = new Map(store.collections.map((c) => [c, (keep.has(c) ? current.get(c) : incoming.get(c)) ?? []]));
    counts = Object.fromEntries([...next].map(([c, records]) => [c, records.length]));
    return next;
  });
  return counts;
}
