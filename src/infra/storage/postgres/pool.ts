import pg from 'pg';
import type { Logger } from '../../../core/logger.js';

export interface PoolOptions {
  /** `postgres://user:password@host:port/database` (`DATABASE_URL`). */
  url: string;
  /** Connections this process may hold; several processes share the server's `max_connections`. */
  max?: number;
  /** Shown in `pg_stat_activity`, to tell this app's connections (and which process) from others. */
  applicationName?: string;
  logger?: Logger;
  /** How long a query may wait for a connection (opening one, or for a busy pool to hand one over). Default 5 s. */
  connectTimeoutMs?: number;
  /** See {@link LOCK_TIMEOUT_MS} (its default). */
  lockTimeoutMs?: number | undefined;
  /** See {@link QUERY_TIMEOUT_MS} (its default). */
  queryTimeoutMs?: number | undefined;
}

/**
 * A connection pool for the driver. The database may restart under it: connections then die, idle or busy.
 * pg reports a dead idle connection as an `error` event on the pool, which would crash the process if nobody
 * listened; here it is logged, pg drops that connection, and the next query opens a fresh one — recovery
 * without a restart. Queries that were running fail with a connection error (see {@link isConnectionError}):
 * the caller answers 503 and releases a checked-out connection with `release(error)` so it is not reused.
 */
export function createPool(options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'agenda-medica',
    // A database that is down must not hold a request for long: fail fast, the client retries on 503.
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    // A database host that vanished (a network cut, not a restart) leaves idle sockets open for hours without it.
    keepAlive: true,
    idleTimeoutMillis: 30_000,
    // A statement whose answer never comes (the path to the database hung after the query left: a half-open load
    // balancer, a dropped route) fails with "Query read timeout" after this long; the caller releases its connection
    // as broken (`isConnectionError`) and answers 503. Without it, the connection and its request waited for TCP to
    // give up: about 15 minutes with the query unacknowledged, never if a middlebox acknowledged it.
    query_timeout: options.queryTimeoutMs ?? QUERY_TIMEOUT_MS,
    // UTF-8 whatever the environment or the server says: statements carry values written in as quoted literals
    // (`batching.ts`), and escaping by doubling quotes and backslashes is only sound in an ASCII-safe encoding.
    client_encoding: 'UTF8',
    // Awaited by pg-pool before the new connection is handed out; if it fails, the connection is closed and the
    // caller gets the error.
    onConnect: async (client) => {
      // With a time limit: pg-pool's connect timeout ends once the socket is open, and on a path that hangs just
      // after it this would never answer, holding a pooled connection for good.
      await client.query({ text: sessionSettings(options.lockTimeoutMs ?? LOCK_TIMEOUT_MS), query_timeout: options.connectTimeoutMs ?? 5_000 } as pg.QueryConfig);
    },
  });
  pool.on('error', (error) => {
    options.logger?.warn({ err: error }, 'conexão com o banco de dados perdida; será reaberta no próximo uso');
  });
  // pg-pool listens for errors only while a connection is idle: one checked out for a transaction that dies
  // with the server would emit an 'error' nobody hears, and that kills the process. Its query already fails
  // with the error (the caller answers 503 and releases it as broken); this listener only keeps it from
  // becoming an uncaught exception.
  pool.on('connect', (client) => {
    client.on('error', (error) => options.logger?.debug({ err: error }, 'conexão em uso encerrada pelo banco de dados'));
  });
  return pool;
}

/**
 * The longest a statement of the driver waits for its answer, in ms, before its connection counts as lost. Far
 * above what any statement of a request takes (waits for locks end at {@link LOCK_TIMEOUT_MS}). The statements that
 * may rightly run longer ask for {@link LONG_STATEMENT_MS} with {@link longStatement}: migrations, a restore's, and
 * the snapshots of backups and reports (a cursor's first FETCH sorts its whole table). It does not stop the statement
 * in the database, so a statement that timed out is not sent again (`isAnswerLost`): a slow one would run twice.
 */
export const QUERY_TIMEOUT_MS = 60_000;

/**
 * The answer time allowed to statements that may rightly take minutes on a large database: a migration (an index
 * built over a large table), a restore's writes. Also bounded, so an operator's command on a path that hangs ends.
 */
export const LONG_STATEMENT_MS = 60 * 60_000;

/** A statement with {@link LONG_STATEMENT_MS} for its answer, instead of the pool's {@link QUERY_TIMEOUT_MS}. */
export const longStatement = (text: string, values?: readonly unknown[]): pg.QueryConfig =>
  ({ text, values: values as unknown[] | undefined, query_timeout: LONG_STATEMENT_MS }) as pg.QueryConfig;

/** The longest any statement of the driver waits for a lock, in ms (see {@link sessionSettings}). */
export const LOCK_TIMEOUT_MS = 10_000;

/**
 * What the driver assumes of every session, whatever a DBA set for the database or role (`ALTER DATABASE … SET`):
 * - statements without an explicit level run READ COMMITTED: the change feed's reads (`alteracoes_desde` refuses
 *   any other level) and the task board's and rate limits' single statements; under REPEATABLE READ a feed read
 *   fails and other processes' commits are never heard (SERIALIZABLE too), and the audit chain forks;
 * - backslashes in string literals are plain characters (`LIKE … ESCAPE '\'` in `reads.ts`; `batching.ts` quotes
 *   values either way);
 * - no statement waits more than `lockTimeoutMs` (default {@link LOCK_TIMEOUT_MS}) for a lock, or the DBA's own
 *   `lock_timeout` where that is shorter: another session holding a table (a DBA's `LOCK TABLE`, a migration queued
 *   behind a long read) makes requests answer 503 then (`errors.ts`: 55P03), not hang for as long as it holds it.
 *   The driver's own waits are short (a group's commit, an audit batch), except behind a restore, which holds every
 *   writer for as long as it runs: those writes answer 503 after the bound. Code that may rightly wait longer says
 *   so with `SET LOCAL lock_timeout` (migrations wait for one another).
 * Set as statements on each new connection, not as the `options` startup parameter, which PgBouncer refuses (and a
 * pooler must be in session mode for them to last: see README).
 */
export function sessionSettings(lockTimeoutMs: number): string {
  const ms = Math.max(1, Math.round(lockTimeoutMs));
  return (
    "SET default_transaction_isolation = 'read committed'; SET standard_conforming_strings = on; " +
    // pg_settings gives lock_timeout in ms; 0 is none.
    `SELECT set_config('lock_timeout', (SELECT CASE WHEN setting::bigint > 0 AND setting::bigint < ${ms} THEN setting ELSE '${ms}' END FROM pg_settings WHERE name = 'lock_timeout'), false)`
  );
}

/**
 * True when `error` is pg's `query_timeout`: the answer did not come in time (a path that hangs, or a statement
 * slower than its bound). A connection error, but not one to try again: the statement may still be running in the
 * database, or have run (see {@link QUERY_TIMEOUT_MS}).
 */
export const isAnswerLost = (error: unknown): boolean => error instanceof Error && error.message === 'Query read timeout';

/** Node's socket errors that mean "no database there right now". */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ENOENT']);

/**
 * True when `error` says the database could not be reached or the connection died (a restart, a crash, a
 * network cut), as opposed to a query being refused: the request may be retried later (503), nothing is known
 * to be wrong with it. SQLSTATE classes 08 (connection exception) and 57P0x (shutdown, crash, starting up),
 * 53300 (too many connections), Node's socket errors, and pg's own messages for a connection that ended.
 */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('08') || /^57P0[1-3]$/.test(code) || code === '53300' || SOCKET_CODES.has(code)) return true;
  }
  // pg raises these without a code when the socket closes under a query or a client is reused after that.
  // "Query read timeout": a statement with a time limit (a health probe, a new connection's settings) went unanswered.
  return /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect|Query read timeout/i.test(error.message);
}
