import type { Store, Tx } from '../store.js';
import { COLLECTIONS } from '../../../../repositories/collections.js';
import type { IdempotencyRecord } from '../../../../repositories/port.js';

const C = COLLECTIONS.idempotencia;

export class IdempotencyRepository {
  constructor(private readonly store: Store) {}

  get(id: string): IdempotencyRecord | undefined {
    this.store.refresh();
    return this.store.get<IdempotencyRecord>(C, id);
  }

  save(tx: Tx, record: IdempotencyRecord): void {
    tx.put(C, record);
  }

  /** Ids of records created before `cutoffMs` (the first `limit` found, if given). */
  olderThan(cutoffMs: number, limit = Number.POSITIVE_INFINITY): string[] {
    this.store.refresh();
    const out: string[] = [];
    for (const record of this.store.values<IdempotencyRecord>(C)) {
      if (out.length >= limit) break;
      if (record.criadoEm < cutoffMs) out.push(record.id);
    }
    return out;
  }

  remove(tx: Tx, id: string): void {
    tx.delete(C, id);
  }
}
