/**
 * Statements that travel together. A round trip to PostgreSQL costs two processes a system call and a wake-up
 * each way, on this machine far more than a small indexed query costs to run; so statements asked for in the
 * same turn of the event loop — a unit of work's `Promise.all` of reads, or the reads of many requests at once —
 * are sent as ONE simple-protocol query string, and their results come back together. The same idea as the JSON
 * driver's group commit: while one batch is on the wire, the next one fills up.
 *
 * The simple protocol carries no parameters, so each value is written into the text as a quoted literal
 * (`pg`'s own `prepareValue`, then {@link quoteLiteral}: the same text the extended protocol would send, quoted,
 * so the server resolves its type from the context exactly as it resolves an untyped parameter). A value that
 * cannot be written that way (bytes, or a NUL, which PostgreSQL text cannot hold and which would end the
 * query string) sends its statement alone, with parameters, in its place in the order.
 *
 * A multi-statement query is one implicit transaction, and a failing statement stops the rest: a batch that
 * fails is the caller's to split (`onBatchError`).
 */
import { createRequire } from 'node:module';
import type pg from 'pg';

export interface Statement {
  sql: string;
  values?: readonly unknown[] | undefined;
}

// pg's own value formatting (not in its typed exports): what the extended protocol would send for each value.
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as {
  prepareValue(value: unknown): string | Buffer | null;
};

/**
 * `text` as a string literal: in quotes, its quotes doubled, and, when it holds a backslash, as an `E'…'` literal
 * with its backslashes doubled — libpq's `PQescapeLiteral`, and exactly what `pg`'s `escapeLiteral` returns. Not
 * that function itself: it appends one character at a time, so a record of 1,000 characters (a consulta's `data`,
 * an audit entry) left about a thousand short-lived strings behind, and the young-generation collector's work
 * was a fifth of the server's CPU on the reads alone (a heap profile of 50 clients' reads: escapeLiteral made a
 * quarter of all allocations). Here a literal is one string, copied once, and a value without quotes or
 * backslashes (ids, dates, most JSON) is not scanned twice.
 */
export function quoteLiteral(text: string): string {
  const quoted = text.includes("'") ? text.replaceAll("'", "''") : text;
  if (!text.includes('\\')) return `'${quoted}'`;
  return ` E'${quoted.replaceAll('\\', '\\\\')}'`;
}

/** A statement whose values are written as SQL literals (quoted, or `NULL`), in the order of its parameters. */
export interface Literal {
  sql: string;
  literals: readonly string[];
}

/** The highest `$n` in `sql` (texts are few: the statements the driver writes, so the answers are kept). */
export function parameterCount(sql: string): number {
  let count = PARAMETER_COUNTS.get(sql);
  if (count === undefined) {
    count = 0;
    for (const [, n] of sql.matchAll(/\$(\d+)/g)) count = Math.max(count, Number(n));
    if (PARAMETER_COUNTS.size < 1_000) PARAMETER_COUNTS.set(sql, count);
  }
  return count;
}
const PARAMETER_COUNTS = new Map<string, number>();

/**
 * `statement`'s values as SQL literals, or undefined when one cannot be inlined safely or a parameter has no value
 * (the statement then goes alone, with parameters, and the server says what is wrong with it).
 */
export function literalsOf(statement: Statement): string[] | undefined {
  if (parameterCount(statement.sql) > (statement.values?.length ?? 0)) return undefined;
  const literals: string[] = [];
  for (const value of statement.values ?? []) {
    const prepared = prepareValue(value);
    if (prepared === null) literals.push('NULL');
    else if (typeof prepared !== 'string' || prepared.includes('\u0000')) return undefined;
    else literals.push(quoteLiteral(prepared));
  }
  return literals;
}

/** `sql` with its parameters replaced by `literals` (every one there: see `literalsOf`). */
export function textOf(sql: string, literals: readonly string[]): string {
  return literals.length === 0 ? sql : sql.replace(/\$(\d+)/g, (_, n: string) => literals[Number(n) - 1]!);
}

/** `statement` as one literal SQL text, or undefined when a value cannot be inlined safely. */
export function inlined(statement: Statement): string | undefined {
  const literals = literalsOf(statement);
  return literals && textOf(statement.sql, literals);
}

interface Pending {
  statement: Statement;
  /** Its values as literals; undefined when it must go alone, with parameters. */
  literals: string[] | undefined;
  /** What tells it from other statements, for deduplication. */
  key: string | undefined;
  /** Goes before the prelude (see `StatementBatcher.run`). */
  opening?: boolean;
  resolve(result: pg.QueryResult): void;
  reject(error: unknown): void;
}

/**
 * Sends a batch (statements with their values as literals, to go as one query text: see `PreparedStatements.send`; or one
 * statement with parameters) and returns each result.
 */
export type Send = (batch: { statements: readonly Literal[] } | Statement) => Promise<pg.QueryResult[]>;

export interface BatcherOptions {
  send: Send;
  /** Batches on the wire at once (one per connection in use). */
  maxInFlight: number;
  /**
   * A statement to send at the head of each batch (after its opening statements: see `run`), asked as the batch is
   * formed (a unit of work's advance locks: see `PgUnitOfWork`); undefined for none. Its failure fails the batch.
   */
  prelude?: (() => Statement | undefined) | undefined;
  /**
   * The same statement asked again while the first is still queued gets the first one's answer (reads outside a
   * transaction: both ask for what is committed now).
   */
  dedupe?: boolean | undefined;
  /**
   * A query text (of one statement or several) failed: settle its statements. Default: every statement fails with the error (inside a
   * transaction the first failure aborts the rest anyway).
   */
  onBatchError?: ((statements: readonly Statement[], error: unknown) => Promise<PromiseSettledResult<pg.QueryResult>[]>) | undefined;
  /**
   * When a batch leaves: `turn` (the default) in the check phase of the event loop, so the statements of every
   * callback of the turn go together — many requests' reads; `microtasks` as soon as the promise jobs running now
   * have all run — one unit of work's statements, which its works queue in the same cascade of jobs (a group's works
   * all continue when one answer arrives). The difference is the rest of the turn: under a booking load the check
   * phase came 1.2–1.8 ms after a unit of work queued a statement (HTTP callbacks in between), on a group commit's
   * path four or five times per group.
   */
  flush?: 'turn' | 'microtasks' | undefined;
}

/** Queues statements and sends those of one event-loop turn together, in order, as few round trips as it can. */
export class StatementBatcher {
  private queue: Pending[] = [];
  /** Queued statements by text, when deduplicating. */
  private readonly queued = new Map<string, Promise<pg.QueryResult>>();
  private inFlight = 0;
  private scheduled = false;
  private drainWaiters: (() => void)[] = [];
  /** Statements sent so far, and round trips that carried them (for the bench's figures and the tests). */
  statements = 0;
  roundTrips = 0;

  constructor(private readonly options: BatcherOptions) {}

  /**
   * Queues `statement`. `opening`: it must run before the prelude of its batch — a transaction's `BEGIN`, which must
   * come before any statement of the transaction (PostgreSQL refuses `BEGIN ISOLATION LEVEL …` after one). Only
   * opening statements at the front of the queue go ahead of the prelude: queue them before anything else.
   */
  run(statement: Statement, opening = false): Promise<pg.QueryResult> {
    const literals = literalsOf(statement);
    // Literals are quoted with their quotes doubled, so the list joined by commas is unambiguous.
    const key = literals && this.options.dedupe ? `${statement.sql}\u0000${literals.join(',')}` : undefined;
    const same = key !== undefined ? this.queued.get(key) : undefined;
    if (same) return same;
    const result = new Promise<pg.QueryResult>((resolve, reject) => {
      this.queue.push({ statement, literals, key, opening, resolve, reject });
      this.schedule();
    });
    if (key !== undefined) this.queued.set(key, result);
    return result;
  }

  /** Statements queued or on the wire. */
  get busy(): boolean {
    return this.queue.length > 0 || this.inFlight > 0;
  }

  /** Resolves once nothing is queued or on the wire (at once when nothing is). */
  drained(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.options.maxInFlight) return;
    this.scheduled = true;
    const flush = (): void => {
      this.scheduled = false;
      this.flush();
    };
    // A tick asked from a promise job runs once the job queue is empty (Node runs the queue, then the ticks), and
    // the job asks it wherever `run` was called from: after every job queued so far, and those they queue.
    if (this.options.flush === 'microtasks') queueMicrotask(() => process.nextTick(flush));
    else setImmediate(flush);
  }

  private flush(): void {
    const prelude = this.queue.length > 0 ? this.options.prelude?.() : undefined;
    if (prelude) {
      const ignore = (): void => undefined; // the statements behind it carry its failure
      let at = 0;
      while (at < this.queue.length && this.queue[at]!.opening) at++;
      this.queue.splice(at, 0, { statement: prelude, literals: literalsOf(prelude), key: undefined, resolve: ignore, reject: ignore });
    }
    while (this.queue.length > 0 && this.inFlight < this.options.maxInFlight) {
      // A statement that cannot be inlined goes alone; otherwise every inlinable one up to the next such.
      const head = this.queue[0]!;
      const take = head.literals === undefined ? 1 : this.queue.findIndex((p) => p.literals === undefined) >>> 0;
      const batch = this.queue.splice(0, Math.min(take, this.queue.length));
      for (const p of batch) if (p.key !== undefined) this.queued.delete(p.key);
      this.inFlight++;
      void this.send(batch).finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) this.schedule();
        else if (!this.busy) for (const resolve of this.drainWaiters.splice(0)) resolve();
      });
    }
  }

  private async send(batch: Pending[]): Promise<void> {
    this.statements += batch.length;
    this.roundTrips++;
    const head = batch[0]!;
    try {
      const results =
        head.literals === undefined
          ? await this.options.send(head.statement)
          : await this.options.send({ statements: batch.map((p) => ({ sql: p.statement.sql, literals: p.literals! })) });
      batch.forEach((p, i) => p.resolve(results[i]!));
    } catch (error) {
      // A statement sent alone with parameters failed on its own; a text (one statement or more) is the caller's to split.
      if (head.literals === undefined || !this.options.onBatchError) {
        for (const p of batch) p.reject(error);
        return;
      }
      const settled = await this.options.onBatchError(
        batch.map((p) => p.statement),
        error,
      ).catch((e: unknown) => batch.map((): PromiseSettledResult<pg.QueryResult> => ({ status: 'rejected', reason: e })));
      batch.forEach((p, i) => {
        const s = settled[i]!;
        if (s.status === 'fulfilled') p.resolve(s.value);
        else p.reject(s.reason);
      });
    }
  }
}

/** The results of a query as a list: pg answers one statement with a result, several with an array of them. */
export function resultsOf(result: pg.QueryResult | pg.QueryResult[], count: number): pg.QueryResult[] {
  const list = Array.isArray(result) ? result : [result];
  if (list.length !== count) throw new Error(`esperados ${count} resultados, recebidos ${list.length}`);
  return list;
}
