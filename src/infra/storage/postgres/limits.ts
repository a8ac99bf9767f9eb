import { hash } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from '../../../core/logger.js';
import type { Attempt, FailureLog, Limits, WindowCounter, WindowHit } from '../../../repositories/limits.js';
import { queryRows } from './query.js';

/** Expired rows are deleted at most this often per process (ms of the callers' clock). */
const SWEEP_EVERY_MS = 60_000;
/**
 * Keys of failed sign-ins kept at most, the ones whose failures expire first dropped beyond it. Ten times the
 * memory driver's bound: rows of a table cost little, and one bound now serves every process of the database.
 */
export const PG_LIMITS_MAX_KEYS = 100_000;
/** Tries on a fresh connection after a lost one (a database restart leaves dead idle connections in the pool). */

/** What is stored of a key: its SHA-256, so the table never holds an e-mail. */
const keyHash = (key: string): string => hash('sha256', key, 'hex');

/**
 * The counted attempt, in one statement: `ON CONFLICT DO UPDATE` locks the key's row and computes from its latest
 * committed version, so two processes counting the same key at once are serialised by the row lock and neither
 * count is lost. `limites_recentes` (migration 0004) keeps a list's elements after a time, sorted.
 */
const ATTEMPT = `
INSERT INTO limites_falhas AS f (chave, falhas, admitida, expira)
VALUES ($1, CASE WHEN $4::int > 0 THEN ARRAY[$2::bigint] ELSE '{}'::bigint[] END, $4::int > 0, $2::bigint + $3::bigint)
ON CONFLICT (chave) DO UPDATE SET
  falhas = CASE WHEN cardinality(limites_recentes(f.falhas, $2::bigint - $3::bigint)) < $4::int
                THEN limites_recentes(f.falhas || $2::bigint, $2::bigint - $3::bigint)
                ELSE limites_recentes(f.falhas, $2::bigint - $3::bigint) END,
  admitida = cardinality(limites_recentes(f.falhas, $2::bigint - $3::bigint)) < $4::int,
  expira = CASE WHEN cardinality(limites_recentes(f.falhas, $2::bigint - $3::bigint)) < $4::int
                THEN greatest(f.expira, $2::bigint + $3::bigint) ELSE f.expira END
RETURNING falhas, admitida`;

/** The fixed-window hit, in one statement (same locking as above). */
const HIT = `
INSERT INTO limites_janelas AS j (chave, inicio, contagem, expira)
VALUES ($1, $2::bigint, 1, $2::bigint + $3::bigint)
ON CONFLICT (chave) DO UPDATE SET
  inicio = CASE WHEN abs($2::bigint - j.inicio) >= $3::bigint THEN $2::bigint ELSE j.inicio END,
  contagem = CASE WHEN abs($2::bigint - j.inicio) >= $3::bigint THEN 1 ELSE j.contagem + 1 END,
  expira = CASE WHEN abs($2::bigint - j.inicio) >= $3::bigint THEN $2::bigint + $3::bigint ELSE j.expira END
RETURNING inicio, contagem`;

export interface PgLimitsOptions {
  /** The driver's pool (`PgStorage.pool`): the counters add no connections of their own. */
  pool: pg.Pool;
  logger?: Logger | undefined;
  /** Bound on the keys of failed sign-ins (default {@link PG_LIMITS_MAX_KEYS}). */
  maxKeys?: number | undefined;
}

/**
 * The counters in the database, shared by every process on it: tables `limites_falhas` and `limites_janelas`
 * (migration 0004), UNLOGGED — a crash of the database empties them, as a restart empties the memory driver's,
 * and in exchange no counted request waits for a WAL flush. Each call is one statement, outside any unit of work
 * (a sign-in's failure is counted even though nothing else is written). Keys are stored as their SHA-256.
 *
 * A database that cannot be reached fails the call with the driver's 503 error: a sign-in or a write is then
 * refused, never let through uncounted. A call whose connection died is tried again on a fresh one; if the dead
 * one had already counted, the request counts twice — the safe side of a limit.
 */
export class PgLimits implements Limits {
  private lastSweep = Number.NEGATIVE_INFINITY;
  private sweeping: Promise<void> | undefined;
  private readonly maxKeys: number;

  constructor(private readonly options: PgLimitsOptions) {
    this.maxKeys = options.maxKeys ?? PG_LIMITS_MAX_KEYS;
  }

  readonly failures: FailureLog = {
    attempt: async (key, nowMs, windowMs, max): Promise<Attempt> => {
      this.sweepSometimes(nowMs);
      const rows = await queryRows<{ falhas: string[]; admitida: boolean }>(this.options.pool, ATTEMPT, [keyHash(key), nowMs, windowMs, max]);
      const row = rows[0]!;
      return { admitted: row.admitida, failures: row.falhas.map(Number) };
    },
    since: async (key, sinceMs) => {
      const rows = await queryRows<{ falhas: string[] }>(this.options.pool, 'SELECT limites_recentes(falhas, $2::bigint) AS falhas FROM limites_falhas WHERE chave = $1', [
        keyHash(key),
        sinceMs,
      ]);
      return (rows[0]?.falhas ?? []).map(Number);
    },
    clear: async (key) => {
      await queryRows(this.options.pool, 'DELETE FROM limites_falhas WHERE chave = $1', [keyHash(key)]);
    },
  };

  readonly windows: WindowCounter = {
    hit: async (key, nowMs, windowMs): Promise<WindowHit> => {
      this.sweepSometimes(nowMs);
      const rows = await queryRows<{ inicio: string; contagem: string }>(this.options.pool, HIT, [keyHash(key), nowMs, windowMs]);
      return { start: Number(rows[0]!.inicio), count: Number(rows[0]!.contagem) };
    },
  };

  /** Deletes what expired before `nowMs`, then the keys of failures beyond the bound (any process may; idempotent). */
  async sweep(nowMs: number): Promise<void> {
    this.lastSweep = nowMs;
    await queryRows(this.options.pool, 'SELECT limites_podar($1::bigint, $2::int)', [nowMs, this.maxKeys]);
  }

  async close(): Promise<void> {
    await this.sweeping;
  }

  /** A sweep at most once a minute, off the request's path: a failed one is only logged (the next one catches up). */
  private sweepSometimes(nowMs: number): void {
    if (this.sweeping || Math.abs(nowMs - this.lastSweep) < SWEEP_EVERY_MS) return;
    this.sweeping = this.sweep(nowMs)
      .catch((error: unknown) => this.options.logger?.warn({ err: error }, 'poda dos contadores de limites falhou'))
      .finally(() => (this.sweeping = undefined));
  }


}
