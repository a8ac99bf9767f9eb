/**
 * The PostgreSQL driver of the storage port: one database shared by any number of server processes.
 *
 * Reads are indexed queries answered by the database (nothing is copied into memory, so a process's memory does
 * not grow with the number of consultas). A unit of work is one SERIALIZABLE transaction on one pooled
 * connection, run again when PostgreSQL aborts it to keep the order serializable; the database's constraints
 * (unique CPF, CRM and e-mail; no overlapping slot holders per médico or pendente consultas per paciente) are
 * the backstop behind the services' checks, and their violations come out as the same domain errors. The
 * change feed is {@link PgChangeFeed}. A connection lost under a read, or under a unit of work before its COMMIT
 * was sent, is replaced and the call tried again (nothing was committed); when the database stays away, or a
 * COMMIT's answer is what was lost, the call fails with {@link StorageUnavailableError} (503). The pool opens
 * fresh connections as needed and the feed's listener reconnects by itself: no restart is needed.
 */
import pg from 'pg';
import { AppError, DatabaseUnreachableError, StorageOpenError, StorageUnavailableError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import { ALL_COLLECTIONS } from '../../../repositories/collections.js';
import type { ImportOptions, RecordSnapshot, RecordSource, Reads, RunOptions, StoragePort, Work } from '../../../repositories/port.js';
import { SharedTransactions } from './shared-transactions.js';
import { PgSignals } from './signals.js';
import { StatementBatcher, type Statement } from './batching.js';
import { PgChangeFeed, type CommittedChanges } from './change-feed.js';
import { isRetryable, translate } from './errors.js';
import { Held } from './held.js';
import { migrate } from './migrations.js';
import { createPool, isAnswerLost, isConnectionError, longStatement } from './pool.js';
import { CONNECTION_ATTEMPTS, queryRows } from './query.js';
import { createReads, type Query } from './reads.js';
import { countAll, openSnapshot, replaceAll } from './records.js';
import { PreparedStatements } from './prepared.js';
import { PgUnitOfWork } from './unit-of-work.js';
import { tableOf } from './tables.js';

export interface PgStorageOptions {
  /** `DATABASE_URL`. */
  url: string;
  logger?: Logger | undefined;
  /** Connections of this process's pool (default 10). */
  poolMax?: number | undefined;
  /** Shown in `pg_stat_activity`. */
  applicationName?: string | undefined;
  /** How often the feed is read without a notification (ms). */
  feedPollMs?: number | undefined;
  /** Feed rows older than this are pruned (ms; default one day). A process that falls further behind resyncs. */
  feedRetentionMs?: number | undefined;
  /** How many times a unit of work runs before a persistent conflict is reported as 503 (default 30). */
  maxAttempts?: number | undefined;
  /** The longest a statement waits for a lock before answering 503 (ms; default `LOCK_TIMEOUT_MS`, 10 s). */
  lockTimeoutMs?: number | undefined;
  /** The longest a statement waits for its answer before its connection counts as lost (ms; `QUERY_TIMEOUT_MS`, 60 s). */
  queryTimeoutMs?: number | undefined;
  /** How often the `LISTEN` connection is checked, and how long it may take to answer (ms; `feed-listener.ts`). */
  feedHeartbeatMs?: number | undefined;
  feedAnswerTimeoutMs?: number | undefined;
}

/** Batches of reads on the wire at once: while some are answered, the next fills up. */
const READ_BATCHES_IN_FLIGHT = 1;
const PRUNE_EVERY_MS = 10 * 60_000;
const HEALTH_TIMEOUT_MS = 2_000;

/** Errors of a COMMIT whose answer was lost: whether it happened is unknown, so it is never run again. */
const uncertainCommits = new WeakSet<object>();

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A connection failure's code and message (Node gives an `AggregateError` with no message when every address refused). */
function whyUnreachable(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const inner = error instanceof AggregateError ? error.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).join('; ') : '';
  return [typeof code === 'string' ? code : undefined, error.message || inner].filter(Boolean).join(': ') || 'sem detalhes';
}

export class PgStorage implements StoragePort {
  readonly driver = 'postgres' as const;
  /** `consultas_medico_sem_sobreposicao` and `consultas_paciente_sem_sobreposicao` (schema.ts). */
  readonly refusesOverlaps = true;
  readonly collections = ALL_COLLECTIONS;
  readonly changes: PgChangeFeed;
  readonly medicos: Reads['medicos'];
  readonly pacientes: Reads['pacientes'];
  readonly consultas: Reads['consultas'];
  readonly usuarios: Reads['usuarios'];
  readonly sessoes: Reads['sessoes'];
  readonly bloqueios: Reads['bloqueios'];
  readonly feriados: Reads['feriados'];
  readonly listaEspera: Reads['listaEspera'];
  readonly idempotency: Reads['idempotency'];
  readonly auditOutbox: Reads['auditOutbox'];
  readonly pool: pg.Pool;
  readonly signals: PgSignals;
  /** Works run with `shared`: grouped into transactions. */
  readonly shared: SharedTransactions;
  /** The reads outside units of work, batched. */
  readonly reads: StatementBatcher;
  /** Statements prepared on each connection, for the reads and the units of work (`prepared.ts`). */
  readonly prepared = new PreparedStatements();
  private readonly maxAttempts: number;
  private readonly retentionMs: number;
  private pruneTimer: NodeJS.Timeout | undefined;
  private readonly active = new Set<Promise<unknown>>();
  private exportSeq = 0;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: PgStorageOptions) {
    this.pool = createPool({ url: options.url, max: options.poolMax, applicationName: options.applicationName, logger: options.logger, lockTimeoutMs: options.lockTimeoutMs, queryTimeoutMs: options.queryTimeoutMs });
    // Each round of a hot record's contention lets one writer through: enough rounds for a few dozen writers of
    // one record at once, at a few seconds at most; a booking race ends sooner (the losers fail their checks).
    this.maxAttempts = options.maxAttempts ?? 30;
    this.retentionMs = options.feedRetentionMs ?? 24 * 60 * 60_000;
    this.shared = new SharedTransactions({
      transaction: (lockAhead, body) => this.transaction(lockAhead, body),
      feed: () => this.changes,
      alone: (work) => this.runWithRetries(work),
      commit: (tx) => this.commit(tx),
      // As in `runWithRetries`: only a COMMIT whose connection was lost has an unknown outcome (a serialization
      // failure at COMMIT is a clean abort, and the group runs again).
      uncertain: (error) => isConnectionError(error) && uncertainCommits.has(error as object),
      logger: options.logger,
    });
    this.changes = new PgChangeFeed({
      pool: this.pool,
      url: options.url,
      collections: ALL_COLLECTIONS,
      logger: options.logger,
      pollMs: options.feedPollMs,
      applicationName: options.applicationName,
      heartbeatMs: options.feedHeartbeatMs,
      answerTimeoutMs: options.feedAnswerTimeoutMs,
      onSignal: (payload) => this.signals.receive(payload),
    });
    // Reads of every request share round trips (see `batching.ts`). A batch that fails is asked again one
    // statement at a time, each then safe to ask again on a fresh connection when a pooled one had died (a
    // database restart), and each failing with its own error.
    const one = async (statement: Statement): Promise<pg.QueryResult> => ({ rows: await queryRows(this.pool, statement.sql, statement.values) }) as pg.QueryResult;
    this.reads = new StatementBatcher({
      maxInFlight: READ_BATCHES_IN_FLIGHT,
      dedupe: true,
      send: async (batch) => {
        if ('sql' in batch) return [await one(batch)];
        const held = new Held(await this.pool.connect());
        try {
          return await this.prepared.send(held.client, batch.statements, true);
        } catch (error) {
          held.note(error);
          throw error;
        } finally {
          held.release();
        }
      },
      // A batch whose answer did not come in time is not split and sent again: each statement would wait as long.
      onBatchError: (statements, error) =>
        isAnswerLost(error)
          ? Promise.resolve(statements.map((): PromiseSettledResult<pg.QueryResult> => ({ status: 'rejected', reason: error })))
          : Promise.allSettled(statements.map(one)),
    });
    const query: Query = async <R extends object>(sql: string, values?: readonly unknown[], heavy = false) =>
      heavy ? queryRows<R>(this.pool, sql, values) : ((await this.reads.run({ sql, values })).rows as R[]);
    this.signals = new PgSignals(query, options.logger);
    const reads = createReads(query);
    this.medicos = reads.medicos;
    this.pacientes = reads.pacientes;
    this.consultas = reads.consultas;
    this.usuarios = reads.usuarios;
    this.sessoes = reads.sessoes;
    this.bloqueios = reads.bloqueios;
    this.feriados = reads.feriados;
    this.listaEspera = reads.listaEspera;
    this.idempotency = reads.idempotency;
    this.auditOutbox = reads.auditOutbox;
  }

  /** Brings the schema up to date (once, whatever the number of processes starting) and starts the feed. */
  async open(): Promise<void> {
    try {
      await migrate(this.pool, this.options.logger);
      await this.changes.start();
    } catch (error) {
      if (isConnectionError(error)) {
        throw new DatabaseUnreachableError(`o banco de dados de DATABASE_URL não pôde ser alcançado (${whyUnreachable(error)})`, error);
      }
      // The database answered, and said no (28P01 wrong password, 3D000 no such database, a migration refused).
      if (error instanceof pg.DatabaseError) {
        throw new StorageOpenError(`o banco de dados de DATABASE_URL recusou: ${error.message} (SQLSTATE ${error.code ?? '?'})`, { cause: error });
      }
      throw translate(error);
    }
    this.pruneTimer = setInterval(() => void this.pruneFeed(), PRUNE_EVERY_MS);
    this.pruneTimer.unref();
  }

  /** Waits for running units of work, then ends the feed and the pool. Safe to call again (as the JSON driver's is). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.pruneTimer);
      await Promise.allSettled([...this.active]);
      await this.changes.stop();
      await this.pool.end();
    })();
    return this.closing;
  }

  run<R>(work: Work<R>, options?: RunOptions): Promise<R> {
    const running = options?.shared ? this.shared.run(work) : this.runWithRetries(work);
    this.active.add(running);
    const forget = (): void => void this.active.delete(running);
    running.then(forget, forget);
    return running;
  }

  private async runWithRetries<R>(work: Work<R>): Promise<R> {
    let connectionFailures = 0;
    for (let attempt = 1; ; attempt++) {
      let outcome: { result: R; changes: CommittedChanges };
      try {
        outcome = await this.attempt(work);
      } catch (error) {
        // A connection lost before COMMIT was sent committed nothing: the work runs again on a fresh one (see the
        // reads above). Lost during COMMIT, the outcome is unknown, and the caller must hear so (503).
        if (isConnectionError(error) && !isAnswerLost(error) && !uncertainCommits.has(error as object) && ++connectionFailures < CONNECTION_ATTEMPTS) continue;
        if (!isRetryable(error)) throw translate(error);
        if (attempt >= this.maxAttempts) {
          throw new StorageUnavailableError('Muitas operações simultâneas sobre os mesmos dados. Tente novamente em instantes.', error);
        }
        // Jittered exponential backoff: colliding units of work must not collide again in lockstep.
        const ceiling = Math.min(100, 2 * 2 ** attempt);
        await sleep(Math.random() * ceiling);
        continue;
      }
      // Listeners hear the commit before `run` resolves, as with the JSON driver (after the connection is back).
      await this.changes.workCommitted(outcome.changes);
      return outcome.result;
    }
  }

  /** One run of `work` in one transaction; rejects with the raw database error (retried or translated above). */
  private attempt<R>(work: Work<R>): Promise<{ result: R; changes: CommittedChanges }> {
    return this.transaction(false, async (tx) => {
      let result: R;
      try {
        result = await work(tx.api);
      } catch (error) {
        await tx.settle();
        // The first failed statement explains what the work did with it (and is what a retry is decided on).
        const cause = tx.failure !== undefined && (isRetryable(tx.failure) || !(error instanceof AppError)) ? tx.failure : error;
        if (tx.failure === undefined && !tx.wrote() && error instanceof AppError) {
          // A refusal decided on reads alone: data read under SERIALIZABLE is only known to be consistent once
          // the transaction commits, so commit the empty transaction — a serialization failure runs it again.
          await tx.end('COMMIT');
        }
        throw cause;
      }
      // A statement failed and the work went on regardless: the transaction is aborted and cannot commit
      // (`writeFeed` waits for the writes sent behind, and throws their failure).
      return { result, changes: await this.commit(tx) };
    });
  }

  /**
   * `body` in one SERIALIZABLE transaction on a pooled connection, for one work or a group of them (`lockAhead`: see
   * `PgUnitOfWork`). BEGIN is not awaited: it travels with the first reads, and its failure is the transaction's
   * first. When `body` throws, the transaction is rolled back; a connection that failed is not given back to the
   * pool (the pool opens a fresh one).
   */
  private async transaction<T>(lockAhead: boolean, body: (tx: PgUnitOfWork) => Promise<T>): Promise<T> {
    const held = new Held(await this.pool.connect());
    const tx = new PgUnitOfWork(held.client, this.prepared, lockAhead);
    try {
      tx.begin('BEGIN ISOLATION LEVEL SERIALIZABLE').catch(() => undefined);
      return await body(tx);
    } catch (error) {
      held.note(error);
      if (!held.broken) await tx.end('ROLLBACK').catch((e: unknown) => (held.broken ??= e as Error));
      throw error;
    } finally {
      held.release();
    }
  }

  /**
   * Writes the feed rows of a transaction whose works are done, and commits it. A COMMIT whose answer is lost may
   * or may not have happened: its error is marked so that nothing runs the works again.
   */
  private async commit(tx: PgUnitOfWork): Promise<CommittedChanges> {
    const changes = await tx.writeFeed();
    const seqs = changes.sequenced.map((c) => c.seq);
    this.changes.committing(seqs);
    try {
      await tx.end('COMMIT');
    } catch (error) {
      this.changes.commitFailed(seqs, changes.sequenced.map((c) => c.change.collection), isConnectionError(error));
      if (error instanceof Object) uncertainCommits.add(error);
      throw error;
    }
    return changes;
  }

  async exportRecords(): Promise<RecordSnapshot> {
    return openSnapshot(new Held(await this.connect()), () => ++this.exportSeq);
  }

  async importRecords(source: RecordSource, options: ImportOptions = {}): Promise<Record<string, number>> {
    const nextCursor = () => ++this.exportSeq;
    const counts = await replaceAll(new Held(await this.connect()), this.collections, source, this.changes, { ...options, nextCursor });
    await this.analyze(this.collections.filter((c) => !options.keep?.has(c)));
    return counts;
  }

  /**
   * Statistics for the tables a restore just filled. Until autovacuum analyses them (a minute or so later) the planner
   * would plan with the counts of the tables it replaced — an empty database's, on a first restore, so every read
   * scans. About a second for 100k consultas. The restore is committed already: a failure here is logged, and
   * autovacuum catches up.
   */
  private async analyze(collections: readonly string[]): Promise<void> {
    if (collections.length === 0) return;
    const tables = [...new Set(collections.map((c) => tableOf(c).table))];
    try {
      await this.pool.query(longStatement(`ANALYZE ${tables.join(', ')}`));
    } catch (error) {
      this.options.logger?.warn({ err: error, tabelas: tables }, 'estatísticas das tabelas restauradas não foram calculadas (o autovacuum calcula depois)');
    }
  }

  async counts(): Promise<Record<string, number>> {
    const held = new Held(await this.connect());
    try {
      return await countAll(held.client);
    } catch (error) {
      held.note(error);
      throw translate(error);
    } finally {
      held.release();
    }
  }

  /**
   * True when the database answers within a moment and accepts writes (not a standby in recovery). Asked on the
   * feed's own connection, so a pool busy with bookings does not make a healthy database look down; through the
   * pool only while that connection is being re-established.
   */
  async healthy(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), HEALTH_TIMEOUT_MS);
    });
    const probe = this.changes
      .probe(HEALTH_TIMEOUT_MS)
      .then(
        async (ok) =>
          ok ??
          (await this.pool.query<{ ok: boolean }>({ text: 'SELECT NOT pg_is_in_recovery() AS ok', query_timeout: HEALTH_TIMEOUT_MS } as pg.QueryConfig)).rows[0]?.ok ===
            true,
      )
      .catch(() => false);
    try {
      return await Promise.race([probe, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Deletes feed rows older than the retention (any process may; the function is idempotent). */
  async pruneFeed(): Promise<number> {
    try {
      const { rows } = await this.pool.query<{ n: string }>('SELECT alteracoes_podar($1::interval) AS n', [`${Math.round(this.retentionMs)} milliseconds`]);
      return Number(rows[0]?.n ?? 0);
    } catch (error) {
      this.options.logger?.warn({ err: error }, 'poda do feed de alterações falhou');
      return 0;
    }
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw translate(error);
    }
  }
}

