/**
 * The audit trail in PostgreSQL: the table `auditoria` (see `audit-schema.ts`), one hash chain for every process
 * of the database, in the same line format as the files of `infra/audit` — so an entry hashes the same bytes
 * whichever driver wrote it.
 *
 * - **One chain.** A batch is one transaction that takes the trail's advisory lock (AUDIT_LOCK_KEY) first, then
 *   reads the chain's tail hash and inserts its rows chained to it. The lock is held until COMMIT, so writers of
 *   every process queue and each one extends the chain the previous one committed.
 * - **Group commit.** Appends made in the same tick (and any made while a batch is in flight) go in one batch:
 *   one lock, one COMMIT (one WAL flush). A promise resolves once its rows are committed.
 * - **Connection loss.** A batch whose connection dies before COMMIT was sent committed nothing and runs again on
 *   a fresh connection; when the database stays away, or the COMMIT's answer is what was lost, the append fails
 *   with StorageUnavailableError (503). Staged entries stay in the outbox then, and recovery appends them with
 *   `appendMissing`, which skips what did commit.
 */
import type pg from 'pg';
import type { Logger } from '../../../core/logger.js';
import type { AuditEntry, AuditPage, AuditQuery, AuditTrail, AuditVerification } from '../../../repositories/audit-trail.js';
import { AppendBatcher, type PendingAppend } from '../../audit/append-batcher.js';
import { encodeLine, GENESIS, hashMatches, readChain } from '../../audit/line-format.js';
import type { StoredAuditEntry } from '../../audit/types.js';
import { translate } from './errors.js';
import { Held } from './held.js';
import { isAnswerLost, isConnectionError } from './pool.js';
import { CONNECTION_ATTEMPTS, queryRows } from './query.js';
import { AUDIT_LOCK_KEY } from './schema.js';

export interface PgAuditLogOptions {
  /** The storage's pool (`PgStorage.pool`): the table is made by its migrations. */
  pool: pg.Pool;
  logger?: Logger | undefined;
  /** Rows `verify` reads per step (default 1000): its memory stays flat whatever the size of the trail. */
  verifyBatch?: number | undefined;
}

interface Row {
  entry: AuditEntry;
  /** The line without its `\n`. */
  line: string;
  hashAnterior: string;
  hash: string;
}

/** What `verifyBatch` rows of the walk look like. */
interface ChainRow {
  seq: string;
  linha: string;
  hash_anterior: string;
  hash: string;
  id: string;
  em: Date;
  usuario_id: string | null;
  acao: string;
  paciente_ids: string[];
}

/** Reported as `primeiraQuebra.arquivo`: the chain lives in this table, and `linha` is a row's `seq`. */
export const AUDIT_TABLE = 'auditoria';
/** Rows per INSERT (8 parameters each, far below PostgreSQL's 65,535). */
const ROWS_PER_INSERT = 500;

/** `em` as seconds since the epoch, as `to_timestamp` takes it; the same division for rows and for filters. */
const seconds = (ms: number): number => ms / 1000;

export class PgAuditLog implements AuditTrail {
  private readonly batcher = new AppendBatcher((batch) => this.commit(batch));
  private closed = false;
  private readonly verifyBatch: number;

  constructor(private readonly options: PgAuditLogOptions) {
    this.verifyBatch = options.verifyBatch ?? 1000;
  }

  /** Checks that the table is there (the storage's migrations made it: open the storage first). */
  async open(): Promise<void> {
    await queryRows(this.options.pool, `SELECT 1 FROM ${AUDIT_TABLE} LIMIT 0`);
  }

  /** Waits for pending appends. The pool is the storage's: it closes it. */
  async close(): Promise<void> {
    this.closed = true;
    await this.batcher.idle();
  }

  async append(entries: AuditEntry[]): Promise<void> {
    await this.enqueue(entries, false);
  }

  appendMissing(entries: AuditEntry[]): Promise<number> {
    return this.enqueue(entries, true);
  }

  /** One statement, so the page and the total come from one snapshot. */
  async query(q: AuditQuery): Promise<AuditPage> {
    const values: unknown[] = [];
    const param = (value: unknown): string => `$${values.push(value)}`;
    const where: string[] = [];
    if (q.usuarioId !== undefined) where.push(`usuario_id = ${param(q.usuarioId)}`);
    if (q.acao !== undefined) where.push(`acao = ${param(q.acao)}`);
    if (q.pacienteId !== undefined) where.push(`paciente_ids @> ARRAY[${param(q.pacienteId)}::text]`);
    if (q.de !== undefined) where.push(`em >= to_timestamp(${param(seconds(q.de.getTime()))}::float8)`);
    if (q.ate !== undefined) where.push(`em <= to_timestamp(${param(seconds(q.ate.getTime()))}::float8)`);
    const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const rows = await queryRows<{ total: string; linha: string | null }>(this.options.pool, 
      `SELECT t.total, p.linha FROM (SELECT count(*) AS total FROM ${AUDIT_TABLE} ${filter}) t
       LEFT JOIN LATERAL (SELECT seq, linha::text AS linha FROM ${AUDIT_TABLE} ${filter}
                          ORDER BY seq DESC LIMIT ${param(q.limit)} OFFSET ${param(q.offset)}) p ON true
       ORDER BY p.seq DESC`,
      values,
    );
    const items = rows.flatMap((row) => (row.linha === null ? [] : [publicEntry(JSON.parse(row.linha) as StoredAuditEntry)]));
    return { items, total: Number(rows[0]?.total ?? 0), limit: q.limit, offset: q.offset };
  }

  /**
   * Walks the chain in seq order, `verifyBatch` rows at a time. A row breaks the chain when its line is not in
   * the format, does not hash to its own `hash`, or does not chain to the row before it — and also when its
   * columns disagree with its line (an entry moved out of reach of the query filters, or a tail hash that is
   * not the line's). Same limits as the files' check (see `infra/audit/verify.ts`).
   */
  async verify(): Promise<AuditVerification> {
    let expected = GENESIS;
    let entradas = 0;
    let after = '0';
    for (;;) {
      const rows = await queryRows<ChainRow>(this.options.pool, 
        `SELECT seq, linha::text AS linha, hash_anterior, hash, id, em, usuario_id, acao, paciente_ids
         FROM ${AUDIT_TABLE} WHERE seq > $1 ORDER BY seq LIMIT $2`,
        [after, this.verifyBatch],
      );
      for (const row of rows) {
        const line = Buffer.from(row.linha);
        const chain = readChain(line);
        if (!chain || chain.hashAnterior !== expected || !hashMatches(line, chain) || !columnsMatch(row, chain.hashAnterior, chain.hash)) {
          return { integra: false, entradas, primeiraQuebra: { arquivo: AUDIT_TABLE, linha: Number(row.seq) } };
        }
        expected = chain.hash;
        entradas++;
      }
      if (rows.length < this.verifyBatch) return { integra: true, entradas };
      after = rows.at(-1)!.seq;
    }
  }

  private enqueue(entries: AuditEntry[], onlyMissing: boolean): Promise<number> {
    if (this.closed) return Promise.reject(new Error('trilha de auditoria fechada'));
    return this.batcher.add(entries, onlyMissing);
  }

  /** One batch, tried again on a fresh connection when the one it had died before COMMIT was sent. */
  private async commit(batch: readonly PendingAppend[]): Promise<(number | Error)[]> {
    for (let attempt = 1; ; attempt++) {
      const progress = { commitSent: false };
      try {
        return await this.attempt(batch, progress);
      } catch (error) {
        if (isConnectionError(error) && !isAnswerLost(error) && !progress.commitSent && attempt < CONNECTION_ATTEMPTS) {
          this.options.logger?.warn({ err: error }, 'auditoria: conexão perdida antes do COMMIT; lote enviado de novo');
          continue;
        }
        throw translate(error);
      }
    }
  }

  /** Lock, read which ids are present and the tail hash, insert the chained rows, commit. Outcomes per caller. */
  private async attempt(batch: readonly PendingAppend[], progress: { commitSent: boolean }): Promise<(number | Error)[]> {
    const held = new Held(await this.options.pool.connect());
    const { client } = held;
    try {
      await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      await client.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK_KEY.toString()]);
      // Statements after the lock see every batch committed before it was granted: READ COMMITTED takes a snapshot
      // per statement (under REPEATABLE READ the tail read here would be the one of before the wait, and fork the chain).
      const ids = batch.flatMap((pending) => pending.entries.map((entry) => entry.id));
      const present = new Set(
        (await client.query<{ id: string }>(`SELECT id FROM ${AUDIT_TABLE} WHERE id = ANY($1::text[])`, [ids])).rows.map((r) => r.id),
      );
      const tail = await client.query<{ hash: string }>(`SELECT hash FROM ${AUDIT_TABLE} ORDER BY seq DESC LIMIT 1`);
      let previous = tail.rows[0]?.hash ?? GENESIS;
      const rows: Row[] = [];
      const outcomes = batch.map((pending): number | Error => {
        // A plain append of an id the trail holds (or that it repeats) is refused, alone: the rest of the batch
        // goes on. appendMissing skips such ids, keeping the first occurrence.
        const repeated = pending.onlyMissing ? undefined : firstRepeated(pending.entries, present);
        if (repeated !== undefined) return new Error(`entrada de auditoria já registrada: ${JSON.stringify(repeated)}`);
        let count = 0;
        for (const entry of pending.entries) {
          if (present.has(entry.id)) continue;
          present.add(entry.id);
          const { line, hash } = encodeLine(entry, previous);
          rows.push({ entry, line: line.slice(0, -1), hashAnterior: previous, hash });
          previous = hash;
          count++;
        }
        return count;
      });
      for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) await insert(client, rows.slice(start, start + ROWS_PER_INSERT));
      progress.commitSent = true;
      await client.query('COMMIT');
      return outcomes;
    } catch (error) {
      held.note(error);
      if (!held.broken) await client.query('ROLLBACK').catch((e: unknown) => (held.broken ??= e as Error));
      throw error;
    } finally {
      held.release();
    }
  }


}

/**
 * Inserts rows chained in array order. `seq` is numbered in the order VALUES lists the rows; the check below
 * turns that reliance into a refusal (the batch rolls back) should it ever not hold.
 */
async function insert(client: pg.PoolClient, rows: Row[]): Promise<void> {
  const values: unknown[] = [];
  const tuples = rows.map(({ entry, line, hashAnterior, hash }, i) => {
    values.push(entry.id, seconds(Date.parse(entry.em)), entry.usuarioId, entry.acao, entry.pacienteIds ?? [], line, hashAnterior, hash);
    const p = i * 8;
    return `($${p + 1}, to_timestamp($${p + 2}::float8), $${p + 3}, $${p + 4}, $${p + 5}::text[], $${p + 6}::json, $${p + 7}, $${p + 8})`;
  });
  const { rows: inserted } = await client.query<{ seq: string; hash: string }>(
    `INSERT INTO ${AUDIT_TABLE} (id, em, usuario_id, acao, paciente_ids, linha, hash_anterior, hash) VALUES ${tuples.join(', ')} RETURNING seq, hash`,
    values,
  );
  const bySeq = inserted.sort((a, b) => Number(a.seq) - Number(b.seq)).map((r) => r.hash);
  if (bySeq.some((hash, i) => hash !== rows[i]!.hash)) throw new Error('auditoria: linhas numeradas fora da ordem da cadeia');
}

/** The first id of `entries` that `present` holds or that `entries` repeat; undefined when there is none. */
function firstRepeated(entries: readonly AuditEntry[], present: ReadonlySet<string>): string | undefined {
  const seen = new Set<string>();
  for (const { id } of entries) {
    if (present.has(id) || seen.has(id)) return id;
    seen.add(id);
  }
  return undefined;
}

/** True when the row's filter and chain columns say what its line says. */
function columnsMatch(row: ChainRow, hashAnterior: string, hash: string): boolean {
  if (row.hash !== hash || row.hash_anterior !== hashAnterior) return false;
  let entry: StoredAuditEntry;
  try {
    entry = JSON.parse(row.linha) as StoredAuditEntry;
  } catch {
    return false;
  }
  const pacienteIds = entry.pacienteIds ?? [];
  return (
    row.id === entry.id &&
    row.em.getTime() === Date.parse(entry.em) &&
    row.usuario_id === entry.usuarioId &&
    row.acao === entry.acao &&
    row.paciente_ids.length === pacienteIds.length &&
    row.paciente_ids.every((id, i) => id === pacienteIds[i])
  );
}

function publicEntry(stored: StoredAuditEntry): AuditEntry {
  const { hash: _hash, hashAnterior: _previous, ...entry } = stored;
  return entry;
}
