import type { Change, Entity, Store, StoreListener } from '../infra/storage/store.js';

/**
 * A secondary index over one collection: key → ids. It listens to the store, so it stays right through
 * commits, rollbacks, writes seen from other processes and full reloads.
 */
export class Index<T extends Entity, K = string> implements StoreListener {
  private readonly map = new Map<K, Set<string>>();

  constructor(
    private readonly store: Store,
    private readonly collection: string,
    private readonly keysOf: (record: T) => readonly K[],
  ) {
    store.subscribe(this);
    this.reset(collection);
  }

  change(change: Change): void {
    if (change.collection !== this.collection) return;
    if (change.before) for (const key of this.keysOf(change.before as T)) this.remove(key, change.id);
    if (change.after) for (const key of this.keysOf(change.after as T)) this.add(key, change.id);
  }

  reset(collection: string): void {
    if (collection !== this.collection) return;
    this.map.clear();
    for (const record of this.store.values<T>(this.collection)) {
      for (const key of this.keysOf(record)) this.add(key, record.id);
    }
  }

  ids(key: K): ReadonlySet<string> {
    return this.map.get(key) ?? EMPTY;
  }

  /** The records under `key`. */
  get(key: K): T[] {
    const out: T[] = [];
    for (const id of this.ids(key)) {
      const record = this.store.get<T>(this.collection, id);
      if (record) out.push(record);
    }
    return out;
  }

  private add(key: K, id: string): void {
    let ids = this.map.get(key);
    if (!ids) this.map.set(key, (ids = new Set()));
    ids.add(id);
  }

  private remove(key: K, id: string): void {
    const ids = this.map.get(key);
    if (!ids) return;
    ids.delete(id);
    if (ids.size === 0) this.map.delete(key);
  }
}

const EMPTY: ReadonlySet<string> = new Set();

/**
 * The records of a collection sorted by a key, rebuilt only after the collection changed, so listing
 * pages of a large collection does not sort it on every request.
 */
export class SortedView<T extends Entity> implements StoreListener {
  private sorted: T[] | undefined;

  constructor(
    private readonly store: Store,
    private readonly collection: string,
    private readonly compare: (a: T, b: T) => number,
  ) {
    store.subscribe(this);
  }

  change(change: Change): void {
    if (change.collection === this.collection) this.sorted = undefined;
  }

  reset(collection: string): void {
    if (collection === this.collection) this.sorted = undefined;
  }

  all(): readonly T[] {
    this.sorted ??= Array.from(this.store.values<T>(this.collection)).sort(this.compare);
    return this.sorted;
  }
}

/** Lower case without accents: how names are compared in searches. */
export function fold(text: string): string {
  return text.normalize('NFD').replace(/\p{Diacritic}/gu, '').toLowerCase();
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

/** Filters a sorted list and cuts a page out of it. */
export function paginate<T>(items: readonly T[], keep: (item: T) => boolean, limit: number, offset: number): Page<T> {
  const matched = items.filter(keep);
  return { items: matched.slice(offset, offset + limit), total: matched.length, limit, offset };
}
