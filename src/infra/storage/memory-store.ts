import { CachedReads } from './collections.js';
import type { Store, TxWork } from './store.js';

/** A store that keeps everything in memory: same semantics as the file store, no durability. */
export class MemoryStore extends CachedReads implements Store {
  async open(): Promise<void> {}
  async close(): Promise<void> {}
  refresh(): void {}
  async checkpoint(): Promise<void> {}
  async writable(): Promise<boolean> {
    return true;
  }

  async transact<R>(work: TxWork<R>): Promise<R> {
    const { result, changes } = this.state.run(work);
    this.state.committed(changes);
    return result;
  }
}
