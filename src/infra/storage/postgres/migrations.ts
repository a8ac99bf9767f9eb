import type pg from 'pg';
import { MigrationError, Umzug, type MigrationParams, type UmzugStorage } from 'umzug';
import type { Logger } from '../../../core/logger.js';
import { isConnectionError, longStatement } from './pool.js';
import { MIGRATION_LOCK_KEY, MIGRATIONS, type SqlMigration } from './schema.js';

/**
 * Brings the database's schema up to date, once, however many processes start at the same moment.
 *
 * The pending migrations run on one connection that holds the migration lock (`pg_advisory_lock`): a second process
 * waits on the lock, then finds the work recorded in `schema_migrations` and has nothing to do. Each migration runs
 * in a transaction of its own with its record, so a migration that fails rolls back alone (PostgreSQL's DDL is
 * transactional): the schema is always at one version or the next, never half-way through one. The price: a future
 * migration that cannot run inside a transaction (`CREATE INDEX CONCURRENTLY`) needs a path of its own.
 */

/** umzug's logger shape: one object per event (`{ event: 'migrating', name }`). */
type UmzugLogger = Record<'info' | 'warn' | 'error' | 'debug', (message: Record<string, unknown>) => void>;

function umzugLogger(logger: Logger): UmzugLogger {
  return {
    info: (m) => logger.info(m, 'migração do banco'),
    warn: (m) => logger.warn(m, 'migração do banco'),
    error: (m) => logger.error(m, 'migração do banco'),
    debug: (m) => logger.debug(m, 'migração do banco'),
  };
}

/** umzug's record of what ran, in the same transaction as the migrations themselves. */
class MigrationTable implements UmzugStorage<pg.PoolClient> {
  async executed({ context }: Pick<MigrationParams<pg.PoolClient>, 'context'>): Promise<string[]> {
    const { rows } = await context.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY name');
    return rows.map((r) => r.name);
  }

  async logMigration({ name, context }: MigrationParams<pg.PoolClient>): Promise<void> {
    await context.query('INSERT INTO schema_migrations (name) VALUES ($1)', [name]);
  }

  async unlogMigration({ name, context }: MigrationParams<pg.PoolClient>): Promise<void> {
    await context.query('DELETE FROM schema_migrations WHERE name = $1', [name]);
  }
}

export interface MigrateOptions {
  /** How long a migration's statement waits for a table's lock before the migration rolls back and is tried again (ms). */
  lockTimeoutMs?: number;
  /** Tries before giving up (the pauses between them double, from `retryDelayMs` up to 30 s). */
  attempts?: number;
  retryDelayMs?: number;
}

/**
 * See {@link MigrateOptions}: by default 20 tries over 8–9 minutes (pauses of 451 s in all, and up to 5 s of waiting
 * in each), each stalling the table it waits for 5 s at most.
 */
const MIGRATE_DEFAULTS: Required<MigrateOptions> = { lockTimeoutMs: 5_000, attempts: 20, retryDelayMs: 1_000 };

/**
 * Runs the pending migrations of `migrations` (default: the schema's) and returns their names (empty when
 * the schema was already up to date).
 *
 * A migration that changes a table waits for every session using it (a long read, a report, `pg_dump`, a process
 * of the previous version), and while it waits every later request on that table queues behind it: the whole
 * clinic stops. So each migration waits at most `lockTimeoutMs` for a lock, then rolls back (55P03), lets the
 * traffic through, and is tried again later; a deadlock with a running process (40P01) is tried again too. Each
 * migration commits on its own, with its record: a retry starts at the one that waited, not over from the first
 * (a rebuilt index is not thrown away), and a table changed by one migration is not held while the next waits.
 * Waiting for another process's migrations (the advisory lock) is not limited.
 */
export async function migrate(pool: pg.Pool, logger?: Logger, migrations: readonly SqlMigration[] = MIGRATIONS, options: MigrateOptions = {}): Promise<string[]> {
  const { lockTimeoutMs, attempts, retryDelayMs } = { ...MIGRATE_DEFAULTS, ...options };
  const ran: string[] = [];
  for (let attempt = 1; ; attempt++) {
    try {
      await migrateOnce(pool, logger, migrations, lockTimeoutMs, ran);
      return ran;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if ((code !== '55P03' && code !== '40P01') || attempt >= attempts) throw error;
      const delayMs = Math.min(retryDelayMs * 2 ** (attempt - 1), 30_000);
      logger?.warn(
        { err: error, tentativa: attempt, proximaEmMs: delayMs },
        'migração do banco não obteve a tempo o bloqueio de uma tabela em uso por outra sessão; desfeita, será tentada de novo',
      );
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/** The pending migrations, one transaction each, under this process's hold of the migration lock; `ran` gets their names. */
async function migrateOnce(pool: pg.Pool, logger: Logger | undefined, migrations: readonly SqlMigration[], lockTimeoutMs: number, ran: string[]): Promise<void> {
  const client = await pool.connect();
  let locked = false;
  let broken: Error | undefined;
  try {
    // A session lock, held across the migrations' transactions. Another process migrating may take long (an
    // index rebuilt over a large table): wait for it without limit (the longest timer Node has: 24 days).
    await client.query('BEGIN');
    await client.query('SET LOCAL lock_timeout = 0');
    await client.query({ ...longStatement('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]), query_timeout: 2 ** 31 - 1 } as pg.QueryConfig);
    locked = true;
    await client.query('COMMIT');
    // Under the lock: two first starts cannot both try to create it.
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, executada_em timestamptz NOT NULL DEFAULT now())');
    const umzug = new Umzug<pg.PoolClient>({
      migrations: migrations.map((m) => ({
        name: m.name,
        up: async ({ context }) => {
          await context.query(longStatement(m.sql));
        },
      })),
      context: client,
      storage: new MigrationTable(),
      logger: logger ? umzugLogger(logger) : undefined,
    });
    for (;;) {
      await client.query('BEGIN');
      await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))}`);
      const step = await umzug.up({ step: 1 });
      await client.query('COMMIT');
      if (step.length === 0) break;
      ran.push(...step.map((m) => m.name));
      logger?.info({ migracao: step[0]!.name }, 'banco de dados atualizado');
    }
  } catch (error) {
    // The connection may be the thing that failed (or a statement of it unanswered, still queued on it): it is then
    // not given back to the pool. ROLLBACK is moot then, and the original error is the news.
    const cause = unwrap(error);
    if (isConnectionError(cause)) broken = cause as Error;
    await client.query('ROLLBACK').catch(() => undefined);
    throw cause;
  } finally {
    // A connection that cannot say so is discarded, and the lock goes with its session.
    if (locked) await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]).catch((error: unknown) => (broken = error as Error));
    client.release(broken);
  }
}

/**
 * umzug wraps a migration's failure in its own error; callers want PostgreSQL's (its SQLSTATE `code` tells a
 * connection loss from a bad migration), with the migration's name added to the message.
 */
function unwrap(error: unknown): unknown {
  if (!(error instanceof MigrationError) || !(error.cause instanceof Error)) return error;
  error.cause.message = `migration ${error.migration.name} failed: ${error.cause.message}`;
  return error.cause;
}
