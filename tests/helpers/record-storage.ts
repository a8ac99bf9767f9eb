import type { Entity, RecordSnapshot, RecordSource } from '../../src/repositories/port.js';
import type { Store } from '../../src/infra/storage/json/store.js';
import type { BackupStorage } from '../../src/services/backup.service.js';

/**
 * Export and import of records over any store (the JSON driver's, over a memory store with collections of the
 * test's own, such as `notas`): what the backup service needs of storage, and nothing of the clinic's
 * collections, so a test can watch exactly the records it wrote.
 */
export function recordStorage(store: Store): BackupStorage {
  return {
    driver: 'json',
    collections: store.collections,
    async exportRecords(): Promise<RecordSnapshot> {
      const copy = await store.records();
      return {
        counts: Object.fromEntries([...copy].map(([c, list]) => [c, list.length])),
        records: async function* (collection) {
          yield* copy.get(collection) ?? [];
        },
        close: async () => copy.clear(),
      };
    },
    async importRecords(source: RecordSource): Promise<Record<string, number>> {
      const all = new Map<string, Entity[]>();
      for (const collection of store.collections) {
        const list: Entity[] = [];
        for await (const record of source(collection)) list.push(record);
        all.set(collection, list);
      }
      await store.replaceAll(all);
      return Object.fromEntries([...all].map(([c, list]) => [c, list.length]));
    },
  };
}
