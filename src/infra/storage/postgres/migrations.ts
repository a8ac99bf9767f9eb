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

/**
 * Runs the pending migrations of `migrations` (default: the schema's) and returns their names (empty when
 * the schema was already up to date).
 */
export async function migrate(pool: pg.Pool, logger?: Logger, migrations: readonly SqlMigration[] = MIGRATIONS): Promise<string[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
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
