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
 * parameters (values never enter them), so they are few; past `MAX_TEXTS` new ones are simply sent as text.
 */
import type pg from 'pg';
import { parameterCount, resultsOf, textOf, type Literal } from './batching.js';
import { isConnectionError } from './pool.js';

const MAX_TEXTS = 500;

export class PreparedStatements {
  /** Texts to prepare on every connection: those sent so far that have parameters. */
  private readonly known = new Set<string>();
  /** Texts the server would not prepare: always sent as text. */
  private readonly refused = new Set<string>();
  /** Per connection, the name of each text prepared on it. */
  private readonly names = new WeakMap<pg.ClientBase, Map<string, string>>();
  private next = 0;
  /** Statements sent as `EXECUTE`, and as text (for the tests and the bench). */
  executed = 0;
  asText = 0;

  /**
   * Sends `statements` on `client` as one query text; `idle` says the connection is outside any transaction, so
   * the texts it lacks may be prepared first.
   */
  async send(client: pg.ClientBase, statements: readonly Literal[], idle: boolean): Promise<pg.QueryResult[]> {
    let names = this.names.get(client);
    if (!names) this.names.set(client, (names = new Map()));
    if (idle && names.size < this.known.size) await this.prepare(client, names);
    const texts = statements.map(({ sql, literals }) => {
      const name = names.get(sql);
      if (name !== undefined) {
        this.executed++;
        return `EXECUTE ${name}(${literals.join(', ')})`;
      }
      // EXECUTE needs exactly one value per parameter.
      if (literals.length > 0 && literals.length === parameterCount(sql) && !this.refused.has(sql) && this.known.size < MAX_TEXTS) this.known.add(sql);
      this.asText++;
      return textOf(sql, literals);
    });
    return resultsOf(await (client.query(texts.join(';\n')) as unknown as Promise<pg.QueryResult | pg.QueryResult[]>), statements.length);
  }

  private async prepare(client: pg.ClientBase, names: Map<string, string>): Promise<void> {
    const missing = [...this.known].filter((sql) => !names.has(sql));
    const named = (sql: string): [string, string] => [sql, `agenda_${++this.next}`];
    const all = missing.map(named);
    try {
      await client.query(all.map(([sql, name]) => `PREPARE ${name} AS ${sql}`).join(';\n'));
      for (const [sql, name] of all) names.set(sql, name);
    } catch (error) {
      if (isConnectionError(error)) throw error;
      // The server refused one of them: each alone (under a fresh name), to find it; it goes as text from now on.
      for (const [sql, name] of missing.map(named)) {
        try {
          await client.query(`PREPARE ${name} AS ${sql}`);
          names.set(sql, name);
        } catch (e) {
          if (isConnectionError(e)) throw e;
          this.known.delete(sql);
          this.refused.add(sql);
        }
      }
    }
  }
}
