import { CachedReads } from './collections.js';
import type { Entity, Store, StoreSnapshot, TxWork } from './store.js';

/** A store that keeps everything in memory: same semantics as the file store, no durability. */
export class MemoryStore extends CachedReads implements Store {
  /** One transaction at a time, as the file store runs them: work that awaits must not interleave. */
  private tail: Promise<unknown> = Promise.resolve();

  async open(): Promise<void> {}
  async close(): Promise<void> {}
  refresh(): void {}
  async checkpoint(): Promise<void> {}
  async writable(): Promise<boolean> {
    return true;
  }

  /** Between transactions: none is half applied. */
  records(): Promise<Map<string, Entity[]>> {
    const run = this.tail.then(() => this.copyRecords());
    this.tail = run.catch(() => undefined);
    return run;
  }

  async snapshot(): Promise<StoreSnapshot> {
    const files = this.collections.map((collection) => ({
      name: `${collection}.json`,
      bytes: Buffer.from(JSON.stringify({ format: 1, collection, generation: 0, records: [...this.state.map(collection).values()] })),
    }));
    files.push({ name: 'journal.wal', bytes: Buffer.alloc(0) });
    return { files, counts: Object.fromEntries(this.collections.map((c) => [c, this.count(c)])), generation: 0 };
  }

  /** Between transactions, as they run: none commits while `next` runs. */
  replaceAll(next: (current: ReadonlyMap<string, readonly Entity[]>) => Promise<ReadonlyMap<string, readonly Entity[]>>): Promise<void> {
    const run = this.tail.then(async () => {
      const records = await next(this.copyRecords());
      for (const collection of this.collections) {
        this.state.replace(collection, new Map((records.get(collection) ?? []).map((r) => [r.id, this.state.admit({ ...r })])));
      }
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  transact<R>(work: TxWork<R>): Promise<R> {
    const run = this.tail.then(async () => {
      const { result, changes } = await this.state.run(work);
      this.state.committed(changes);
      return result;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }
}
