import type { Change, CommitListener, Entity, StoreListener, Tx, TxWork } from './store.js';

/**
 * The in-memory half of a store: one `Map` per collection, change listeners, and an undo log so a
 * transaction whose commit fails can be taken back. Both stores build on it.
 */
export class Collections {
  private readonly maps = new Map<string, Map<string, Entity>>();
  private readonly listeners = new Set<StoreListener>();
  private readonly commitListeners = new Set<CommitListener>();
  private readonly pool = new Map<string, string>();

  /** Listeners must not break a commit that is already durable: their errors are reported, not thrown. */
  onListenerError: (error: unknown) => void = () => undefined;

  /** `sharedFields`: see {@link admit}. */
  constructor(
    readonly names: readonly string[],
    private readonly sharedFields: readonly string[] = [],
  ) {
    for (const name of names) this.maps.set(name, new Map());
  }

  /**
   * Makes a fresh record fit to be kept: frozen, and with its `sharedFields` (references to other records, such
   * as a consulta's `medicoId`) pointing at one pooled string per value. `JSON.parse` and every request body make
   * a new 36-character string each time; at 100k consultas sharing them saves about 11 MB of heap. The pool
   * holds one entry per distinct id ever referenced (médicos and pacientes), a small bounded set.
   */
  admit<T extends Entity>(record: T): T {
    for (const field of this.sharedFields) {
      const value = (record as Record<string, unknown>)[field];
      if (typeof value !== 'string') continue;
      const pooled = this.pool.get(value);
      if (pooled === undefined) this.pool.set(value, value);
      else (record as Record<string, unknown>)[field] = pooled;
    }
    return Object.freeze(record);
  }

  map(collection: string): Map<string, Entity> {
    const map = this.maps.get(collection);
    if (!map) throw new Error(`coleção desconhecida: ${collection}`);
    return map;
  }

  /** Applies one change and tells the listeners; returns the change with its `before`. */
  apply(collection: string, id: string, after: Entity | undefined): Change {
    const map = this.map(collection);
    const before = map.get(id);
    if (after) map.set(id, after);
    else map.delete(id);
    const change: Change = { collection, id, before, after };
    for (const listener of this.listeners) listener.change(change);
    return change;
  }

  /** Reverts changes, newest first. */
  undo(changes: readonly Change[]): void {
    for (let i = changes.length - 1; i >= 0; i--) {
      const change = changes[i]!;
      this.apply(change.collection, change.id, change.before);
    }
  }

  /** Replaces a collection's content (a load or a reload) and tells the listeners to rebuild. */
  replace(collection: string, records: Map<string, Entity>): void {
    this.maps.set(collection, records);
    for (const listener of this.listeners) listener.reset(collection);
  }

  subscribe(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onCommit(listener: CommitListener): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  /** Tells commit listeners that these changes are durable. */
  committed(changes: readonly Change[]): void {
    if (changes.length === 0) return;
    for (const listener of this.commitListeners) {
      try {
        listener(changes);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }

  /**
   * Runs transaction work, applying its writes as they are made so later checks in the same work (and
   * later work in the same group commit) see them. If the work throws, its writes are undone. The caller
   * runs one unit of work at a time: nothing else writes while `work` awaits.
   */
  async run<R>(work: TxWork<R>): Promise<{ result: R; changes: Change[] }> {
    const changes: Change[] = [];
    const tx: Tx = {
      put: (collection, record) => {
        changes.push(this.apply(collection, record.id, this.admit({ ...record })));
      },
      delete: (collection, id) => {
        if (this.map(collection).has(id)) changes.push(this.apply(collection, id, undefined));
      },
    };
    try {
      const result = await work(tx);
      return { result, changes };
    } catch (error) {
      this.undo(changes);
      throw error;
    }
  }
}

/** The read half every store shares: answers come from the in-memory collections. */
export abstract class CachedReads {
  protected readonly state: Collections;

  constructor(
    readonly collections: readonly string[],
    sharedFields: readonly string[] = [],
  ) {
    this.state = new Collections(collections, sharedFields);
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

  /** A copy of every collection's records in id order (the records themselves are frozen: shared, not cloned). */
  protected copyRecords(): Map<string, Entity[]> {
    return new Map(
      this.collections.map((collection) => [collection, [...this.state.map(collection).values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))]),
    );
  }

  subscribe(listener: StoreListener): () => void {
    return this.state.subscribe(listener);
  }

  onCommit(listener: CommitListener): () => void {
    return this.state.onCommit(listener);
  }
}
