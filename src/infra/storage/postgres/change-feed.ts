/**
 * The change feed of the PostgreSQL driver, for one process: its own commits are delivered as soon as they are
 * committed; other processes' commits are read from the `alteracoes` table (see `schema.ts`) by `seq`, woken by
 * `LISTEN`/`NOTIFY` and, in case a notification was lost, by a poll.
 *
 * Each change is delivered once per process, and a record's changes in the order they were committed. A unit of
 * work registers the seqs of its feed rows before it sends COMMIT ({@link PgChangeFeed.committing}); the reader
 * stops at those rows until the unit of work has delivered them itself, once COMMIT answered, and then skips
 * them. A unit of work that updates or deletes a record first lets the reader deliver what lies below its rows
 * (the record's previous change may be another process's, not read yet). As a last guard, a change older than
 * one already delivered for the same record is dropped rather than delivered out of order (its effect is in the
 * newer one's `before`).
 *
 * Missed changes become resets (`onReset` for every collection): feed rows pruned before this process read
 * them, or a sequence that went backwards (the database was replaced). An own commit whose answer was lost with
 * its connection is not delivered by its unit of work: if it happened, the reader delivers its rows like another
 * process's. A lost LISTEN connection loses nothing: once back, the reader reads the table from where it was.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from '../../../core/logger.js';
import type { Change, ChangeFeed, Entity, FeedPosition } from '../../../repositories/port.js';
import { FeedListener } from './feed-listener.js';
import { Held } from './held.js';
import { FEED_LOCK_KEY } from './schema.js';

/** A feed row as the reader gets it. */
interface FeedRow {
  seq: string;
  transacao: string;
  colecao: string;
  id: string | null;
  antes: Entity | null;
  depois: Entity | null;
}

/** A change with the seq of its feed row. */
export interface SequencedChange {
  seq: number;
  change: Change;
}

/** What a unit of work's commit changed: the changes with their feed rows, and those of process-local collections. */
export interface CommittedChanges {
  sequenced: SequencedChange[];
  local: Change[];
}

export interface FeedOptions {
  pool: pg.Pool;
  /** For the `LISTEN` connection, which must not come from the pool (it stays open). */
  url: string;
  collections: readonly string[];
  logger?: Logger | undefined;
  /** Read the feed this often even without a notification (ms). */
  pollMs?: number | undefined;
  /** Rows per read. */
  batch?: number | undefined;
  applicationName?: string | undefined;
  /** Signals heard on the `LISTEN` connection (see `signals.ts`). */
  onSignal?: ((payload: string) => void) | undefined;
  /** See `FeedListenerOptions.heartbeatMs` and `answerTimeoutMs`. */
  heartbeatMs?: number | undefined;
  answerTimeoutMs?: number | undefined;
}

/** The least time between two reads of the feed by one process, under a stream of notifications. */
const READ_GAP_MS = 20;

/** The longest an own commit waits for an earlier one to be delivered. */
const OWN_TURN_MAX_MS = 2_000;

const keyOf = (collection: string, id: string): string => `${collection}\u0000${id}`;

export class PgChangeFeed implements ChangeFeed {
  private readonly commitListeners = new Set<(changes: readonly Change[]) => void>();
  private readonly resetListeners = new Set<(collection: string) => void>();
  /** The highest seq the reader has passed: every committed row up to it has been seen. */
  private lastSeen = 0;
  /** The highest seq delivered to listeners (own commits may be ahead of {@link lastSeen}). */
  private highest = 0;
  /** While listeners run: what {@link position} reports about the changes they hear. */
  private delivering: FeedPosition | undefined;
  /** Seqs of own commits whose COMMIT has been sent and not yet answered. */
  private readonly inFlight = new Set<number>();
  /** Seqs of own commits delivered before the reader reached them: the reader skips each once. */
  private readonly ownDelivered = new Set<number>();
  /** The seq of the last delivered change of each record (only while an older one could still arrive). */
  private readonly latest = new Map<string, number>();
  private listener: FeedListener | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private pulling: Promise<void> | undefined;
  private pullAgain = false;
  /** Own commits waiting for an earlier own commit to be delivered. */
  private readonly turnWaiters = new Set<{ first: number; resolve: () => void }>();
  /** The last read stopped at an own commit not yet delivered. */
  private heldBack = false;
  private announcing = false;
  private announceAgain = false;
  private closed = false;
  private readonly pollMs: number;
  private readonly batch: number;
  /** Reads of the feed table so far (for the tests). */
  reads = 0;
  /** Reads started and finished (whatever their outcome), and who waits for a read to finish (`catchUp`). */
  private pullsStarted = 0;
  private pullsFinished = 0;
  private readonly pullWaiters = new Set<{ target: number; resolve: () => void }>();
  /** This process's token in its announcements (see `onWake`). */
  private readonly origin = randomUUID();

  constructor(private readonly options: FeedOptions) {
    this.pollMs = options.pollMs ?? 2_000;
    this.batch = options.batch ?? 500;
  }

  onCommit(listener: (changes: readonly Change[]) => void): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  onReset(listener: (collection: string) => void): () => void {
    this.resetListeners.add(listener);
    return () => this.resetListeners.delete(listener);
  }

  /** Starts listening, from what is committed now (earlier changes are in the tables already). */
  async start(): Promise<void> {
    this.closed = false;
    this.listener = new FeedListener({
      url: this.options.url,
      applicationName: `${this.options.applicationName ?? 'agenda-medica'} (feed)`,
      logger: this.options.logger,
      heartbeatMs: this.options.heartbeatMs,
      answerTimeoutMs: this.options.answerTimeoutMs,
      // Woken by another process's notification, or reconnected after a loss: what was committed meanwhile is in
      // the table. This process's own announcements wake nobody here: it delivered those commits itself.
      onWake: (origin) => {
        if (origin !== this.origin) this.requestPull();
      },
      onSignal: this.options.onSignal,
    });
    await this.listener.start();
    this.lastSeen = await this.startingPoint();
    this.highest = Math.max(this.highest, this.lastSeen);
    this.pollTimer = setInterval(() => this.requestPull(), this.pollMs);
    this.pollTimer.unref();
  }

  async stop(): Promise<void> {
    this.closed = true;
    clearInterval(this.pollTimer);
    await this.pulling?.catch(() => undefined);
    await this.listener?.stop();
    this.listener = undefined;
  }

  // ---- own commits ----------------------------------------------------------------------------------------

  /** Called before COMMIT is sent with the seqs of the unit of work's feed rows. */
  committing(seqs: readonly number[]): void {
    for (const seq of seqs) this.inFlight.add(seq);
  }

  /**
   * COMMIT answered: tells other processes, and delivers the unit of work's changes — at once, unless one of them
   * updates or deletes a record while feed rows below it are still unread: the record's previous change may be
   * among them (another process's), so the feed is read first and the history of each record is heard in order,
   * none skipped. Inserts (a booking) never wait.
   */
  async committed(changes: readonly SequencedChange[], resets: readonly SequencedReset[] = []): Promise<void> {
    if (changes.length === 0 && resets.length === 0) return;
    this.announce();
    // A fold, not `Math.min(...)`: a unit of work may hold more changes than a call takes arguments.
    let first = Number.POSITIVE_INFINITY;
    for (const { seq } of [...changes, ...resets]) if (seq < first) first = seq;
    // Own commits are heard in the order of their seqs too: an earlier one still waiting for its COMMIT's answer
    // (or for its own catch-up) goes first.
    await this.ownTurn(first);
    if (changes.some((c) => c.change.before !== undefined) && this.othersBelow(first)) await this.catchUp();
    for (const { seq } of [...changes, ...resets]) {
      this.inFlight.delete(seq);
      // Not yet reached by the reader: it must skip that row when it gets there.
      if (seq > this.lastSeen) this.ownDelivered.add(seq);
    }
    for (const { collection } of resets) this.emitReset(collection);
    this.deliver(changes, this.lastSeen);
    this.wakeTurns();
    // The reader may be waiting at these rows with later ones in hand.
    if (this.heldBack) this.requestPull();
  }

  /**
   * A unit of work committed: its changes with feed rows as {@link committed}, then those of process-local
   * collections, which have no feed row and no seq (`PROCESS_LOCAL_COLLECTIONS`): straight to the listeners.
   */
  async workCommitted(changes: CommittedChanges): Promise<void> {
    await this.committed(changes.sequenced);
    if (changes.local.length > 0) this.notify(changes.local);
  }

  /**
   * Whether a row the reader has not passed, below `seq`, may be another process's: every seq in between that is not
   * an own commit's (delivered, or on its way) counts, a gap left by a rollback too. Own commits are not read back
   * (announcements wake only other processes), so in a process writing alone the reader lags, and this spares each
   * own update a read of the feed.
   */
  private othersBelow(seq: number): boolean {
    if (seq - this.lastSeen > 10_000) return true;
    for (let s = this.lastSeen + 1; s < seq; s++) if (!this.ownDelivered.has(s) && !this.inFlight.has(s)) return true;
    return false;
  }

  /**
   * Resolves once no own commit with a lower seq is still undelivered — or after {@link OWN_TURN_MAX_MS}: a COMMIT
   * stuck on a dying connection must not hold every later commit of the process (the guard in `deliver` then
   * keeps each record's order, at the price of dropping the late change).
   */
  private ownTurn(first: number): Promise<void> {
    if (!this.inFlightBelow(first)) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = {
        first,
        resolve: () => {
          clearTimeout(timer);
          this.turnWaiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.resolve, OWN_TURN_MAX_MS);
      this.turnWaiters.add(waiter);
    });
  }

  private inFlightBelow(seq: number): boolean {
    for (const s of this.inFlight) if (s < seq) return true;
    return false;
  }

  private wakeTurns(): void {
    for (const waiter of [...this.turnWaiters]) if (!this.inFlightBelow(waiter.first)) waiter.resolve();
  }

  /**
   * COMMIT failed. `unknown`: the connection died with it, so the commit may have happened; its rows, if any,
   * are then delivered by the reader — unless it already passed them while they were in flight, in which case
   * they are lost to this process, and whatever derives from their collections is reset.
   */
  commitFailed(seqs: readonly number[], collections: readonly string[], unknown: boolean): void {
    let passed = false;
    for (const seq of seqs) {
      this.inFlight.delete(seq);
      if (seq <= this.lastSeen) passed = true;
    }
    if (unknown && passed) for (const collection of new Set(collections)) this.emitReset(collection);
    this.wakeTurns();
    // A commit whose answer was lost may have happened: its rows are delivered by the reader, now (its own
    // announcement, if any, would not wake this process).
    if (unknown || this.heldBack) this.requestPull();
  }

  // ---- other processes' commits ---------------------------------------------------------------------------

  /** Reads the feed soon (coalesced: one read at a time, one more if asked meanwhile). */
  requestPull(): void {
    if (this.closed) return;
    if (this.pulling) {
      this.pullAgain = true;
      return;
    }
    const loop = async () => {
      do {
        this.pullAgain = false;
        this.pullsStarted++;
        try {
          await this.pull();
        } catch (error) {
          // The database is away: the reconnecting listener (or the next poll) reads again.
          this.options.logger?.debug({ err: error }, 'leitura do feed de alterações falhou');
          break;
        } finally {
          this.pullsFinished++;
          for (const waiter of [...this.pullWaiters]) if (waiter.target <= this.pullsFinished) waiter.resolve();
        }
        // Asked again meanwhile: after a short gap, so one read serves the commits of that moment (each read
        // holds writers' feed rows back while it runs) — unless a commit is waiting for that read (`catchUp`).
        if (this.pullAgain && !this.closed && this.pullWaiters.size === 0) await new Promise((resolve) => setTimeout(resolve, READ_GAP_MS));
      } while (this.pullAgain && !this.closed);
      // In the same step as the loop's last look at `pullAgain`, not in a later callback: a read asked after that
      // look (say by a waiter just resolved, whose continuation runs next) then starts a new loop instead of
      // being dropped by this one's end.
      this.pulling = undefined;
      // Waiters left are those of reads this loop will not make (the database is away, or the feed stopped; after
      // a normal end none is left, since one asked during the last read made it go round again): as before a read,
      // they go on, and the next read delivers what they missed.
      for (const waiter of [...this.pullWaiters]) waiter.resolve();
    };
    this.pulling = loop();
  }

  /** See {@link FeedListener.probe}. */
  probe(timeoutMs: number): Promise<boolean | undefined> {
    return this.listener?.probe(timeoutMs) ?? Promise.resolve(undefined);
  }

  /**
   * Resolves once every change committed before the call has been delivered: after the first read that starts
   * after the call (not once reading goes quiet, which under a stream of notifications may be never).
   */
  catchUp(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = {
        target: this.pullsStarted + 1,
        resolve: () => {
          this.pullWaiters.delete(waiter);
          resolve();
        },
      };
      this.pullWaiters.add(waiter);
      this.requestPull();
    });
  }

  private async pull(): Promise<void> {
    const { pool } = this.options;
    this.reads++;
    const before = this.lastSeen;
    const rows: FeedRow[] = [];
    let after = before;
    for (;;) {
      const { rows: batch } = await pool.query<FeedRow>(
        'SELECT seq, transacao::text AS transacao, colecao, id, antes, depois FROM alteracoes_desde($1, $2)',
        [after, this.batch],
      );
      rows.push(...batch);
      if (batch.length > 0) after = Number(batch[batch.length - 1]!.seq);
      if (batch.length < this.batch) break;
    }
    const { rows: marks } = await pool.query<{ podado: string; ultimo: string }>(
      'SELECT (SELECT ate FROM alteracoes_poda) AS podado, (SELECT last_value FROM alteracoes_seq) AS ultimo',
    );
    const pruned = Number(marks[0]?.podado ?? 0);
    const last = Number(marks[0]?.ultimo ?? 0);
    this.apply(rows);
    if (pruned > before) {
      // Rows after what this process had read were pruned before it read them.
      this.options.logger?.warn({ desde: before, podado: pruned }, 'alterações perdidas pelo feed; derivados serão reconstruídos');
      this.resetAll();
    } else if (last < this.lastSeen) {
      // The sequence went backwards: this is not the database the feed was reading (a replacement, a restore).
      this.options.logger?.warn({ visto: this.lastSeen, atual: last }, 'sequência do feed recomeçou; derivados serão reconstruídos');
      this.lastSeen = last;
      this.ownDelivered.clear();
      this.latest.clear();
      this.resetAll();
    }
    this.prune();
  }

  /**
   * Delivers the rows of a read, one commit at a time, in the order of their first seq — up to the first row of an
   * own commit whose COMMIT has not been answered yet: that commit is delivered by its unit of work, and what
   * follows it waits (its records may have been changed again after it), so a record's changes are heard in order.
   */
  private apply(rows: readonly FeedRow[]): void {
    const stop = rows.findIndex((row) => this.inFlight.has(Number(row.seq)));
    this.heldBack = stop >= 0;
    const ready = stop >= 0 ? rows.slice(0, stop) : rows;
    const groups = new Map<string, FeedRow[]>();
    for (const row of ready) {
      let group = groups.get(row.transacao);
      if (!group) groups.set(row.transacao, (group = []));
      group.push(row);
    }
    for (const group of groups.values()) {
      // Groups go in the order of their first seq and every earlier row of the read was in an earlier group:
      // everything below this group's first row has been delivered.
      const watermark = Number(group[0]!.seq) - 1;
      const changes: SequencedChange[] = [];
      for (const row of group) {
        const seq = Number(row.seq);
        this.lastSeen = Math.max(this.lastSeen, seq);
        if (this.ownDelivered.delete(seq)) continue;
        if (row.id === null) {
          this.emitReset(row.colecao);
          continue;
        }
        changes.push({ seq, change: { collection: row.colecao, id: row.id, before: row.antes ?? undefined, after: row.depois ?? undefined } });
      }
      this.deliver(changes, watermark);
    }
  }

  /** Calls the commit listeners with the changes not superseded by a newer delivered change of their record. */
  private deliver(changes: readonly SequencedChange[], watermark: number): void {
    const fresh: Change[] = [];
    let top = 0;
    for (const { seq, change } of changes) {
      const key = keyOf(change.collection, change.id);
      const newest = this.latest.get(key);
      if (newest !== undefined && newest > seq) continue;
      this.latest.set(key, seq);
      fresh.push(change);
      top = Math.max(top, seq);
    }
    if (fresh.length === 0) return;
    this.highest = Math.max(this.highest, top);
    this.delivering = { watermark, seq: top, highest: this.highest };
    try {
      this.notify(fresh);
    } finally {
      this.delivering = undefined;
    }
  }

  private notify(changes: readonly Change[]): void {
    for (const listener of this.commitListeners) {
      try {
        listener(changes);
      } catch (error) {
        this.options.logger?.error({ err: error }, 'ouvinte de commit falhou');
      }
    }
  }

  /**
   * See {@link ChangeFeed.position}. Between deliveries every row up to {@link lastSeen} has been delivered
   * (applied, skipped as an own commit delivered earlier, or superseded by a newer change of its record).
   */
  position(): FeedPosition {
    return this.delivering ?? { watermark: this.lastSeen, highest: Math.max(this.highest, this.lastSeen) };
  }

  /** Forgets what can no longer be needed: a record's last seq, once nothing older can still arrive. */
  private prune(): void {
    let oldestInFlight = Infinity;
    for (const seq of this.inFlight) oldestInFlight = Math.min(oldestInFlight, seq);
    const bound = Math.min(this.lastSeen + 1, oldestInFlight);
    for (const [key, seq] of this.latest) if (seq < bound) this.latest.delete(key);
    for (const seq of this.ownDelivered) if (seq <= this.lastSeen) this.ownDelivered.delete(seq);
  }

  private emitReset(collection: string): void {
    for (const listener of this.resetListeners) {
      try {
        listener(collection);
      } catch (error) {
        this.options.logger?.error({ err: error }, 'ouvinte de reinício falhou');
      }
    }
  }

  private resetAll(): void {
    for (const collection of this.options.collections) this.emitReset(collection);
  }

  // ---- where reading starts, and notifications --------------------------------------------------------------

  /** The highest seq such that every feed row up to it is committed (taken under the feed lock, as readers do). */
  private async startingPoint(): Promise<number> {
    const held = new Held(await this.options.pool.connect());
    try {
      await held.client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      await held.client.query('SELECT pg_advisory_xact_lock($1)', [FEED_LOCK_KEY.toString()]);
      const { rows } = await held.client.query<{ seq: string | null }>('SELECT max(seq) AS seq FROM alteracoes');
      await held.client.query('COMMIT');
      return Number(rows[0]?.seq ?? 0);
    } catch (error) {
      // Whatever failed, this connection is not trusted back into the pool.
      held.broken ??= error as Error;
      throw error;
    } finally {
      held.release();
    }
  }

  /**
   * Tells other processes that the feed has new rows: at most one NOTIFY in flight, so a burst of commits costs
   * one (each reader reads everything new when woken). A lost notification only delays readers to their poll.
   */
  private announce(): void {
    if (this.announcing) {
      this.announceAgain = true;
      return;
    }
    this.announcing = true;
    this.options.pool
      .query('SELECT alteracoes_anunciar($1)', [this.origin])
      .catch((error: unknown) => this.options.logger?.debug({ err: error }, 'aviso de alterações falhou'))
      .finally(() => {
        this.announcing = false;
        if (this.announceAgain && !this.closed) {
          this.announceAgain = false;
          this.announce();
        }
      });
  }
}

/** A collection replaced wholesale (a restore), with the seq of its feed row. */
export interface SequencedReset {
  seq: number;
  collection: string;
}
