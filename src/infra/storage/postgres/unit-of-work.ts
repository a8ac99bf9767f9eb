/**
 * One unit of work on one connection: the port's reads and writes inside a SERIALIZABLE transaction. Writes
 * are recorded as changes (with the record's previous state, read by the same statement) and written to the
 * change feed as the transaction's last statement (see `schema.ts`, "why a lock").
 */
import type pg from 'pg';
import { COLLECTIONS } from '../../../repositories/collections.js';
import type { Entity, UnitOfWork, Writes } from '../../../repositories/port.js';
import type { SequencedChange } from './change-feed.js';
import { createReads, type Query } from './reads.js';
import { rowValues, tableOf, upsertSql } from './tables.js';

/** Feed rows per INSERT (4 parameters each, far below PostgreSQL's 65,535). */
const FEED_ROWS_PER_INSERT = 1000;

interface PendingChange {
  collection: string;
  id: string;
  /** JSON text, or null: inserted / deleted. */
  before: string | null;
  after: string | null;
}

export class PgUnitOfWork {
  /** The first statement that failed: the transaction is aborted from then on, and it explains what follows. */
  failure: unknown;
  readonly changes: PendingChange[] = [];
  /** Records whose history is rewritten in this transaction, after its feed rows (see `forgetHistory`). */
  private readonly forgotten: { collection: string; ids: readonly string[] }[] = [];
  readonly api: UnitOfWork;
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly client: pg.PoolClient) {
    const query: Query = async <R extends object>(sql: string, values?: readonly unknown[]) => (await this.query<R>(sql, values)).rows;
    const reads = createReads(query);
    const writes = <T extends Entity>(collection: string): Writes<T> => ({
      save: (record) => this.save(collection, record),
      remove: (id) => this.remove(collection, id),
    });
    this.api = {
      medicos: { ...reads.medicos, ...writes(COLLECTIONS.medicos) },
      pacientes: { ...reads.pacientes, ...writes(COLLECTIONS.pacientes) },
      consultas: { ...reads.consultas, ...writes(COLLECTIONS.consultas) },
      usuarios: { ...reads.usuarios, ...writes(COLLECTIONS.usuarios) },
      sessoes: { ...reads.sessoes, ...writes(COLLECTIONS.sessoes) },
      bloqueios: { ...reads.bloqueios, ...writes(COLLECTIONS.bloqueios) },
      feriados: { ...reads.feriados, ...writes(COLLECTIONS.feriados) },
      listaEspera: { ...reads.listaEspera, ...writes(COLLECTIONS.listaEspera) },
      idempotency: { ...reads.idempotency, ...writes(COLLECTIONS.idempotencia) },
      auditOutbox: { ...reads.auditOutbox, ...writes(COLLECTIONS.auditoriaPendente) },
      // A transaction-level advisory lock: released by COMMIT or ROLLBACK, never left behind.
      lock: async (key) => {
        await this.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [key]);
      },
      forgetHistory: async (collection, ids) => {
        if (ids.length > 0) this.forgotten.push({ collection, ids: [...ids] });
      },
    };
  }

  /**
   * Runs one statement on the transaction's connection. Statements are sent one after another even when the work
   * starts several at once (`Promise.all` of reads): one connection runs one statement at a time anyway, and pg 8
   * only queues them with a deprecation warning (pg 9 will refuse).
   */
  query<R extends object>(sql: string, values?: readonly unknown[]): Promise<pg.QueryResult<R>> {
    const run = this.tail.then(async () => {
      try {
        return await this.client.query<R>(sql, values as unknown[] | undefined);
      } catch (error) {
        this.failure ??= error;
        throw error;
      }
    });
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async save(collection: string, record: Entity): Promise<void> {
    const table = tableOf(collection);
    const { json, values } = rowValues(table, record);
    const { rows } = await this.query<{ antes: string | null }>(upsertSql(table), values);
    this.changes.push({ collection, id: record.id, before: rows[0]?.antes ?? null, after: json });
  }

  private async remove(collection: string, id: string): Promise<void> {
    const { rows } = await this.query<{ antes: string }>(`DELETE FROM ${tableOf(collection).table} WHERE id = $1 RETURNING data::text AS antes`, [id]);
    // As the JSON driver: removing what is not there changes nothing, and the feed hears nothing.
    if (rows.length > 0) this.changes.push({ collection, id, before: rows[0]!.antes, after: null });
  }

  /** Writes the feed rows of every change, in order; returns the changes with their seqs. */
  async writeFeed(): Promise<SequencedChange[]> {
    const out: SequencedChange[] = [];
    for (let start = 0; start < this.changes.length; start += FEED_ROWS_PER_INSERT) {
      const chunk = this.changes.slice(start, start + FEED_ROWS_PER_INSERT);
      const values: unknown[] = [];
      const tuples = chunk.map((c, i) => {
        values.push(c.collection, c.id, c.before, c.after);
        return `($${i * 4 + 1}, $${i * 4 + 2}, $${i * 4 + 3}::json, $${i * 4 + 4}::json)`;
      });
      const { rows } = await this.query<{ seq: string }>(`INSERT INTO alteracoes (colecao, id, antes, depois) VALUES ${tuples.join(', ')} RETURNING seq`, values);
      // The trigger numbers rows in the order the statement inserts them, which is the order of VALUES.
      const seqs = rows.map((r) => Number(r.seq)).sort((a, b) => a - b);
      chunk.forEach((c, i) => {
        out.push({
          seq: seqs[i]!,
          change: {
            collection: c.collection,
            id: c.id,
            before: c.before === null ? undefined : (JSON.parse(c.before) as Entity),
            after: c.after === null ? undefined : (JSON.parse(c.after) as Entity),
          },
        });
      });
    }
    await this.rewriteForgotten();
    return out;
  }

  /**
   * Rewrites the feed rows of the records asked to be forgotten — this transaction's own, just written, and older
   * ones kept for processes reading late — to the record's current version, or `{"id": …}` for a deleted one. In the
   * same transaction as the write: the old values leave with the commit. The rows stay in place: a reader meets no
   * gap, and hears a change whose before and after hold no old value.
   */
  private async rewriteForgotten(): Promise<void> {
    for (const { collection, ids } of this.forgotten) {
      await this.query(
        `UPDATE alteracoes a
            SET antes = CASE WHEN a.antes IS NULL THEN NULL ELSE COALESCE(r.data, json_build_object('id', a.id)) END,
                depois = CASE WHEN a.depois IS NULL THEN NULL ELSE COALESCE(r.data, json_build_object('id', a.id)) END
           FROM unnest($2::text[]) AS alvo(id) LEFT JOIN ${tableOf(collection).table} r ON r.id = alvo.id
          WHERE a.colecao = $1 AND a.id = alvo.id`,
        [collection, ids],
      );
    }
  }
}
