import type pg from 'pg';
import { MigrationError, Umzug, type MigrationParams, type UmzugStorage } from 'umzug';
import type { Logger } from '../../../core/logger.js';
import { MIGRATION_LOCK_KEY, MIGRATIONS, type SqlMigration } from './schema.js';

/**
 * Brings the database's schema up to date, once, however many processes start at the same moment.
 *
 * Every pending migration runs in ONE transaction, on one connection, after `pg_advisory_xact_lock`: a second
 * process waits on the lock, then finds the work recorded in `schema_migrations` and has nothing to do; a
 * migration that fails rolls back with every other one of that run and with their records (PostgreSQL's DDL is
 * transactional), so a half-migrated schema cannot exist. The price: a future migration that cannot run inside
 * a transaction (`CREATE INDEX CONCURRENTLY`) needs a path of its own.
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
  /** How long a migration's statement waits for a table's lock before the run rolls back and tries again (ms). */
  lockTimeoutMs?: number;
  /** Runs tried before giving up (the waits between them double, from `retryDelayMs` to 30 s). */
  attempts?: number;
  retryDelayMs?: number;
}

/** See {@link MigrateOptions}: by default about 8 minutes of tries, each stalling the tables it waits for 5 s at most. */
const MIGRATE_DEFAULTS: Required<MigrateOptions> = { lockTimeoutMs: 5_000, attempts: 20, retryDelayMs: 1_000 };

/**
 * Runs the pending migrations of `migrations` (default: the schema's) and returns their names (empty when
 * the schema was already up to date).
 *
 * A migration that changes a table waits for every session using it (a long read, a report, `pg_dump`, a process
 * of the previous version), and while it waits every later request on that table queues behind it: the whole
 * clinic stops. So each run waits at most `lockTimeoutMs` for a lock, then rolls back (55P03), lets the traffic
 * through, and tries again later; a deadlock with a running process (40P01) is tried again too. Waiting for
 * another process's migrations (the advisory lock) is not limited.
 */
export async function migrate(pool: pg.Pool, logger?: Logger, migrations: readonly SqlMigration[] = MIGRATIONS, options: MigrateOptions = {}): Promise<string[]> {
  const { lockTimeoutMs, attempts, retryDelayMs } = { ...MIGRATE_DEFAULTS, ...options };
  for (let attempt = 1; ; attempt++) {
    try {
      return await migrateOnce(pool, logger, migrations, lockTimeoutMs);
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

async function migrateOnce(pool: pg.Pool, logger: Logger | undefined, migrations: readonly SqlMigration[], lockTimeoutMs: number): Promise<string[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Another process migrating may take long (an index rebuilt over a large table): wait for it without limit.
    await client.query('SET LOCAL lock_timeout = 0');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))}`);
    // Under the lock: two first starts cannot both try to create it.
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, executada_em timestamptz NOT NULL DEFAULT now())');
    const umzug = new Umzug<pg.PoolClient>({
      migrations: migrations.map((m) => ({
        name: m.name,
        up: async ({ context }) => {
          await context.query(m.sql);
        },
      })),
      context: client,
      storage: new MigrationTable(),
      logger: logger ? umzugLogger(logger) : undefined,
    });
    const ran = await umzug.up();
    await client.query('COMMIT');
    if (ran.length > 0) logger?.info({ migracoes: ran.map((m) => m.name) }, 'banco de dados atualizado');
    return ran.map((m) => m.name);
  } catch (error) {
    // The connection may be the thing that failed; ROLLBACK is then moot, and the original error is the news.
    await client.query('ROLLBACK').catch(() => undefined);
    throw unwrap(error);
  } finally {
    client.release();
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
