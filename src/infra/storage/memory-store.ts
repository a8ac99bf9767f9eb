import { Collections } from './collections.js';
import type { Entity, Store, StoreListener, TxWork } from './store.js';

/** A store that keeps everything in memory: same semantics as the file store, no durability. */
export class MemoryStore implements Store {
  private readonly state: Collections;

  constructor(readonly collections: readonly string[]) {
    this.state = new Collections(collections);
  }

  async open(): Promise<void> {}
  async close(): Promise<void> {}
  refresh(): void {}
  async checkpoint(): Promise<void> {}
  async writable(): Promise<boolean> {
    return true;
  }

  get<T extends Entity>(collection: string, id: string): T | undefined {
    return this.state.map(collection).get(id) as T | undefined;
  }

  values<T extends Entity>(collection: string): IterableIterator<T> {
    return this.state.map(collection).values() as IterableIterator<T>;
  }

  count(collection: string): number {
    return this.state.map(collection).size;
  }

  async transact<R>(work: TxWork<R>): Promise<R> {
    return this.state.run(work).result;
  }

  subscribe(listener: StoreListener): () => void {
    return this.state.subscribe(listener);
  }
}
