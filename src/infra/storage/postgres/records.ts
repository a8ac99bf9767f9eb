/**
 * Records in bulk: the consistent snapshot of a backup or report, and the restore that replaces every collection
 * at once (also the path between drivers: a JSON driver's backup restores here, and back).
 */
import type pg from 'pg';
import { AppError, restoreInProgress } from '../../../core/errors.js';
import { ALL_COLLECTIONS } from '../../../repositories/collections.js';
import type { Entity, ImportOptions, RecordSnapshot, RecordSource } from '../../../repositories/port.js';
import type { PgChangeFeed, SequencedReset } from './change-feed.js';
import { sqlState, translate } from './errors.js';
import type { Held } from './held.js';
import { isConnectionError, longStatement } from './pool.js';
import { RESTORE_LOCK_KEY } from './schema.js';
import { insertManySql, rowValues, tableOf } from './tables.js';

/** Records per page of an export (a cursor's FETCH). */
const EXPORT_BATCH = 2000;
/** PostgreSQL's limit of parameters per statement is 65,535; a restore's batches stay well below it. */
const IMPORT_PARAMETERS = 30_000;

/** The tables of the collections, for statements that name them all. */
const ALL_TABLES = ALL_COLLECTIONS.map((c) => tableOf(c).table).join(', ');

/**
 * A consistent snapshot of every record: one REPEATABLE READ READ ONLY transaction on `held`, each collection walked
 * by a cursor in id order. `close()` ends the transaction and gives the connection back.
 */
export async function openSnapshot(held: Held, nextCursor: () => number): Promise<RecordSnapshot> {
  try {
    await held.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    return await snapshotIn(held, nextCursor, async () => {
      await held.client.query('COMMIT').catch((e: unknown) => (held.broken ??= e as Error));
      held.release();
    });
  } catch (error) {
    held.broken ??= error as Error;
    held.release();
    throw translate(error);
  }
}

/**
 * The records as `connection`'s open transaction sees them, each collection walked by a cursor in id order;
 * `end` runs once, at `close()`. The transaction's snapshot must not move meanwhile: REPEATABLE READ, or tables no
 * one can write (a restore's lock).
 */
async function snapshotIn(held: Held, nextCursor: () => number, end: () => Promise<void>): Promise<RecordSnapshot> {
  const connection = held.client;
  let open = true;
  // Collections may be walked at once (a backup zips them in parallel): their statements take turns.
  let tail: Promise<unknown> = Promise.resolve();
  const client = {
    query: <R extends object>(sql: string): Promise<pg.QueryResult<R>> => {
      // The long answer time: a cursor's first FETCH sorts its whole table (`id COLLATE "C"` is not the primary key's
      // order), which may take minutes on a large database. A connection lost under a backup or a report is a 503
      // for its task, as anywhere else (`translate`), and the connection is not given back to the pool.
      const run = tail.then(() => connection.query<R>(longStatement(sql))).catch((error: unknown) => {
        held.note(error);
        throw translate(error);
      });
      tail = run.catch(() => undefined);
      return run;
    },
  };
  const counts = await countAll(connection);
  return {
    counts,
    async *records(collection: string): AsyncIterable<Entity> {
      const table = tableOf(collection).table;
      // One cursor per walk: the table is sorted once, in the JSON driver's id order (code points, "C"),
      // whatever the database's default collation; FETCH hands it over a page at a time.
      const cursor = `exportacao_${nextCursor()}`;
      await client.query(`DECLARE ${cursor} NO SCROLL CURSOR FOR SELECT data FROM ${table} ORDER BY id COLLATE "C"`);
      try {
        for (;;) {
          const { rows } = await client.query<{ data: Entity }>(`FETCH ${EXPORT_BATCH} FROM ${cursor}`);
          for (const row of rows) yield row.data;
          if (rows.length < EXPORT_BATCH) break;
        }
      } finally {
        if (open) await client.query(`CLOSE ${cursor}`).catch(() => undefined);
      }
    },
    close: async () => {
      if (!open) return;
      open = false;
      await tail;
      await end();
    },
  };
}

/**
 * Replaces every collection with `source`'s records in one transaction (a restore), and tells the feed: one
 * reset row per collection, heard by every process. Kept collections stay as they are; `beforeReplace` reads
 * every record through this transaction once the tables are locked (see `ImportOptions`).
 */
export async function replaceAll(
  held: Held,
  collections: readonly string[],
  source: RecordSource,
  feed: PgChangeFeed,
  options: ImportOptions & { nextCursor: () => number },
): Promise<Record<string, number>> {
  const { keep = new Set<string>(), beforeReplace, nextCursor } = options;
  const { client } = held;
  let seqs: number[] = [];
  let released = false;
  const counts: Record<string, number> = {};
  try {
    await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
    const { rows: tried } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [RESTORE_LOCK_KEY.toString()]);
    if (tried[0]?.ok !== true) throw restoreInProgress();
    // Writers wait until the restore is done (or answer 503 after the driver's lock_timeout, `pool.ts`); readers keep
    // seeing the old records until it commits.
    await client.query(`LOCK TABLE ${ALL_TABLES} IN EXCLUSIVE MODE`);
    // Every write committed before the lock is visible from here on (READ COMMITTED), and none can follow.
    if (beforeReplace) {
      const current = await snapshotIn(held, nextCursor, async () => {});
      try {
        await beforeReplace(current);
      } finally {
        await current.close();
      }
    }
    // The consultas trigger takes advisory locks per médico and paciente and quarter hour to queue colliding bookings
    // (schema.ts); held to the end of the transaction, a restore of 100k consultas would exhaust the lock table.
    // Nothing collides with a restore that holds every table, and the constraints still check every row.
    await client.query('ALTER TABLE consultas DISABLE TRIGGER consultas_enfileirar');
    for (const collection of collections) {
      const table = tableOf(collection);
      if (keep.has(collection)) {
        const { rows } = await client.query<{ n: string }>(longStatement(`SELECT count(*) AS n FROM ${table.table}`));
        counts[collection] = Number(rows[0]!.n);
        continue;
      }
      // A restore's statements may take minutes on a large database: they get the long answer time (`pool.ts`).
      await client.query(longStatement(`DELETE FROM ${table.table}`));
      const perBatch = Math.max(1, Math.floor(IMPORT_PARAMETERS / (table.columns.length + 2)));
      let batch: unknown[] = [];
      let rows = 0;
      let count = 0;
      const flush = async (): Promise<void> => {
        if (rows === 0) return;
        await client.query(longStatement(insertManySql(table, rows), batch));
        batch = [];
        rows = 0;
      };
      for await (const record of source(collection)) {
        batch.push(...rowValues(table, record).values);
        rows++;
        count++;
        if (rows >= perBatch) await flush();
      }
      await flush();
      counts[collection] = count;
    }
    await client.query('ALTER TABLE consultas ENABLE TRIGGER consultas_enfileirar');
    // One feed row per collection with no id: every process rebuilds what it derives from them.
    const values = collections.map((_, i) => `($${i + 1}, NULL)`).join(', ');
    const { rows } = await client.query<{ seq: string; colecao: string }>(
      `INSERT INTO alteracoes (colecao, id) VALUES ${values} RETURNING seq, colecao`,
      [...collections],
    );
    const resets: SequencedReset[] = rows.map((r) => ({ seq: Number(r.seq), collection: r.colecao })).sort((a, b) => a.seq - b.seq);
    seqs = resets.map((r) => r.seq);
    feed.committing(seqs);
    await client.query(longStatement('COMMIT'));
    seqs = [];
    held.release();
    released = true;
    await feed.committed([], resets);
    return counts;
  } catch (error) {
    if (seqs.length > 0) feed.commitFailed(seqs, collections, isConnectionError(error));
    held.note(error);
    if (!held.broken) await client.query('ROLLBACK').catch((e: unknown) => (held.broken ??= e as Error));
    throw importError(error);
  } finally {
    if (!released) held.release();
  }
}

export async function countAll(client: pg.PoolClient): Promise<Record<string, number>> {
  const sql = ALL_COLLECTIONS.map((c) => `SELECT '${c}' AS colecao, count(*) AS n FROM ${tableOf(c).table}`).join(' UNION ALL ');
  // Every row of every table: the long answer time (`pool.ts`).
  const { rows } = await client.query<{ colecao: string; n: string }>(longStatement(sql));
  return Object.fromEntries(rows.map((r) => [r.colecao, Number(r.n)]));
}

/** A restore refused by the database: the backup's records break a rule (a duplicate id, CPF, an overlap). */
function importError(error: unknown): unknown {
  const code = sqlState(error);
  if (code !== undefined && (code.startsWith('23') || code.startsWith('22'))) {
    const { table, constraint } = error as { table?: string; constraint?: string };
    return new AppError(
      'BACKUP_INVALIDO',
      `Os registros do backup violam uma regra do banco de dados${table ? ` (coleção ${table}` : ''}${constraint ? `, restrição ${constraint}` : ''}${table ? ')' : ''}.`,
      undefined,
      { cause: error },
    );
  }
  return translate(error);
}
