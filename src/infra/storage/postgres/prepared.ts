/**
 * Statements prepared once per connection. A statement sent as text is parsed, analysed and planned by the server
 * each time it comes: measured with `npm run bench:pg-profile`, planning alone was a third of a booking's database
 * CPU. A prepared statement is parsed once per connection, and after a few runs PostgreSQL keeps one generic plan
 * for it when that plan is no worse than the custom ones. Batches (`batching.ts`) then carry
 * `EXECUTE name('literal', …)` instead of the statement's whole text: the same round trips, the values still
 * written by pg's own quoting.
 *
 * Two things about PREPARE decide how it is sent:
 * - it is not transactional: a statement prepared in a transaction that rolls back stays prepared;
 * - when it fails inside a transaction, it aborts that transaction.
 * So statements are prepared only on a connection outside any transaction (a pooled connection for reads; a
 * unit of work's connection before its BEGIN), in a round trip of their own, and a connection's names are
 * recorded only when that round trip succeeds. Names are never reused: a PREPARE that ran in a round trip that
 * failed further on leaves a name nobody uses, never a name for the wrong statement.
 *
 * A text is prepared once it has been sent: the first time it goes as text, and the next time any connection is
 * outside a transaction it prepares every text it lacks. The texts are the driver's own statements with `$n`
 * parameters (values never enter them), so they are few; past `MAX_TEXTS` new ones are simply sent as text, and
 * so are those with more than `MAX_PARAMETERS`.
 */
import type pg from 'pg';
import { parameterCount, resultsOf, textOf, type Literal } from './batching.js';
import { isStalePrepared, sqlState } from './errors.js';
import { isConnectionError } from './pool.js';

const MAX_TEXTS = 500;
/**
 * Texts with more parameters are not prepared: they are the many-row statements (a group's feed rows), one text per
 * row count, each run once per group, whose parsing is shared by their rows already.
 */
const MAX_PARAMETERS = 64;

/** Refusals that will not change by asking again: the text itself cannot be prepared (syntax, types: class 42). */
const refusesText = (error: unknown): boolean => sqlState(error)?.startsWith('42') === true;

interface Connection {
  /** The name of each text prepared on it. */
  names: Map<string, string>;
  /** How many of the known texts it has been offered (prepared, or refused). */
  offered: number;
  /** Its statements no longer fit (see `isStalePrepared`): deallocated before the next ones are prepared. */
  stale: boolean;
}

export class PreparedStatements {
  /** Texts to prepare on every connection, in the order they were first sent (never shrinks: see `offered`). */
  private readonly known: string[] = [];
  private readonly knownSet = new Set<string>();
  /** Texts the server would not prepare: always sent as text. */
  private readonly refused = new Set<string>();
  private readonly connections = new WeakMap<pg.ClientBase, Connection>();
  private next = 0;
  /** Statements answered after being sent as `EXECUTE`, and sent as text (for the tests and the bench). */
  executed = 0;
  asText = 0;

  /**
   * Sends `statements` on `client` as one query text; `idle` says the connection is outside any transaction, so
   * the texts it lacks may be prepared first.
   */
  async send(client: pg.ClientBase, statements: readonly Literal[], idle: boolean): Promise<pg.QueryResult[]> {
    let connection = this.connections.get(client);
    if (!connection) this.connections.set(client, (connection = { names: new Map(), offered: 0, stale: false }));
    if (idle && (connection.stale || connection.offered < this.known.length)) await this.prepare(client, connection);
    let executes = 0;
    const texts = statements.map(({ sql, literals }) => {
      // EXECUTE needs exactly one value per parameter.
      const fits = literals.length > 0 && literals.length <= MAX_PARAMETERS && literals.length === parameterCount(sql);
      const name = fits && !connection.stale ? connection.names.get(sql) : undefined;
      if (name !== undefined) {
        executes++;
        return `EXECUTE ${name}(${literals.join(', ')})`;
      }
      if (fits && !this.refused.has(sql) && !this.knownSet.has(sql) && this.known.length < MAX_TEXTS) {
        this.known.push(sql);
        this.knownSet.add(sql);
      }
      this.asText++;
      return textOf(sql, literals);
    });
    let result: pg.QueryResult | pg.QueryResult[];
    try {
      result = await (client.query(texts.join(';\n')) as unknown as Promise<pg.QueryResult | pg.QueryResult[]>);
    } catch (error) {
      if (isStalePrepared(error)) connection.stale = true;
      throw error;
    }
    this.executed += executes;
    return resultsOf(result, statements.length);
  }

  /**
   * Prepares on `client` (outside any transaction) the known texts it has not been offered yet, in one round trip.
   * When that fails, its statements before the failing one are prepared already under names nobody has: every
   * statement of the connection is deallocated and the texts are prepared one by one, to find the one refused.
   */
  private async prepare(client: pg.ClientBase, connection: Connection): Promise<void> {
    if (connection.stale) {
      await client.query('DEALLOCATE ALL');
      connection.names.clear();
      connection.offered = 0;
      connection.stale = false;
    }
    const fresh = this.known.slice(connection.offered).filter((sql) => !this.refused.has(sql));
    const named = fresh.map((sql): [string, string] => [sql, `agenda_${++this.next}`]);
    try {
      if (named.length > 0) await client.query(named.map(([sql, name]) => `PREPARE ${name} AS ${sql}`).join(';\n'));
      for (const [sql, name] of named) connection.names.set(sql, name);
      connection.offered = this.known.length;
      return;
    } catch (error) {
      if (isConnectionError(error)) throw error;
    }
    await client.query('DEALLOCATE ALL');
    connection.names.clear();
    connection.offered = 0;
    for (const sql of this.known) {
      if (this.refused.has(sql)) continue;
      const name = `agenda_${++this.next}`;
      try {
        await client.query(`PREPARE ${name} AS ${sql}`);
        connection.names.set(sql, name);
      } catch (error) {
        if (isConnectionError(error)) throw error;
        // A text the server cannot prepare goes as text from now on. Anything else (a timeout, a lock) is tried
        // again, from the start, the next time this connection is idle.
        if (refusesText(error)) this.refused.add(sql);
        else {
          connection.stale = true;
          return;
        }
      }
    }
    connection.offered = this.known.length;
  }
}
