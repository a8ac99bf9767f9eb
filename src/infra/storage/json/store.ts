/**
 * The storage interface every repository uses. Two implementations: {@link FileStore} (durable JSON files
 * plus a journal, shared safely between processes) and {@link MemoryStore} (for fast service tests).
 *
 * The model is deliberately small: named collections of records keyed by `id`, read from an in-memory
 * cache, and written through {@link Store.transact}. A transaction's `work` runs synchronously against
 * state that is current with every process's committed writes (the file store holds the inter-process
 * lock while it runs), so a check such as "is this CRM taken?" and the write that follows are atomic.
 */

export interface Entity {
  id: string;
}

/** One record changed: `before` undefined means inserted, `after` undefined means deleted. */
export interface Change {
  collection: string;
  id: string;
  before: Entity | undefined;
  after: Entity | undefined;
}

/** Repositories keep their indexes current by listening. */
export interface StoreListener {
  /** A record changed (a commit, a rollback of one, or a write seen from another process). */
  change(change: Change): void;
  /** The collection was reloaded wholesale: rebuild anything derived from it. */
  reset(collection: string): void;
}

export type CommitListener = (changes: readonly Change[]) => void;

/** The write half of a transaction. Reads go through the store (or repositories) as usual. */
export interface Tx {
  put(collection: string, record: Entity): void;
  delete(collection: string, id: string): void;
}

/**
 * The work of one transaction. It may await reads of the store (they answer from memory), but nothing slow:
 * the file lock is held, and every other transaction waits, until it ends.
 */
export type TxWork<R> = (tx: Tx) => R | Promise<R>;

export interface Store {
  readonly collections: readonly string[];
  open(): Promise<void>;
  /** Finishes queued writes, checkpoints, releases resources. */
  close(): Promise<void>;

  /** Brings the cache up to date with writes of other processes. Cheap (one `stat`) when nothing changed. */
  refresh(): void;
  get<T extends Entity>(collection: string, id: string): T | undefined;
  values<T extends Entity>(collection: string): IterableIterator<T>;
  count(collection: string): number;

  /**
   * Runs `work` atomically and durably: the promise resolves with its result once the writes are on disk,
   * or rejects with what `work` threw (nothing written) or with a StorageUnavailableError.
   */
  transact<R>(work: TxWork<R>): Promise<R>;
  subscribe(listener: StoreListener): () => void;
  /**
   * Calls `listener` with the changes of every durable commit: this process's (after fsync) and other
   * processes' (once read from the journal). Domain events are raised from here, never from `change`.
   */
  onCommit(listener: CommitListener): () => void;

  /** Folds the journal into the data files. */
  checkpoint(): Promise<void>;
  /** Every committed record at one consistent moment, each collection in id order (exports, backups). */
  records(): Promise<Map<string, Entity[]>>;
  /** Every file at one consistent moment (for backups and reports). */
  snapshot(): Promise<StoreSnapshot>;
  /**
   * Replaces every collection at once, atomically (a restore), with what `next` returns. `next` runs once no
   * transaction of any process can commit until the replacement is done, with every committed record as it is then.
   */
  replaceAll(next: (current: ReadonlyMap<string, readonly Entity[]>) => Promise<ReadonlyMap<string, readonly Entity[]>>): Promise<void>;
  /** True when the data directory can be written. */
  writable(): Promise<boolean>;
}

export interface SnapshotFile {
  name: string;
  bytes: Buffer;
}

/** Every file of a store at one consistent moment: `<collection>.json` data files and `journal.wal`. */
export interface StoreSnapshot {
  files: SnapshotFile[];
  counts: Record<string, number>;
  generation: number;
}
