/**
 * Group commit for PostgreSQL: works run with `RunOptions.shared` (the booking worker's regular bookings) are
 * gathered into groups, and each group is ONE serializable transaction in which its works run side by side. Their
 * statements asked in the same turn travel together (`batching.ts`), so a group of 30 bookings costs about as many
 * round trips as one booking alone, and one COMMIT — one WAL flush — for all of them. It is the JSON driver's
 * group commit (many transactions, one `fdatasync`) carried over to a database: the cost of a round trip and of
 * a commit is shared by whoever is waiting when it happens.
 *
 * Producer/consumer: `run` queues a work; at most {@link MAX_GROUPS_IN_FLIGHT} groups run at once, and whenever one
 * ends, the next takes everything queued meanwhile (up to {@link MAX_GROUP_SIZE}). Under no load a work waits for
 * nothing: it starts a group of its own in the next turn of the event loop.
 *
 * What a group promises is what each work would get alone:
 * - a work that refuses before writing (a booking rule) fails alone; the others commit, and the commit also
 *   validates the reads behind the refusal (under SERIALIZABLE, reads are known consistent only once committed);
 * - the works of a group may touch each other only where a constraint refuses it (the option's contract), so when
 *   a statement fails (two bookings of one slot: 23P01), a work fails after writing, or anything else unexpected
 *   happens, the transaction is rolled back and each work runs again ALONE, as without the option — it then gets
 *   exactly the answer it would have had (one booking wins, the other hears 409);
 * - a serialization failure (another group or process interleaved) runs the group again, a few times, then alone;
 * - a COMMIT whose answer was lost may have happened: nothing runs again, every work hears 503; so too when the
 *   database cannot serve now (`isNotNow`: a lock held past the lock_timeout, a read-only standby).
 */
import { AppError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import type { Work } from '../../../repositories/port.js';
import type { CommittedChanges, PgChangeFeed } from './change-feed.js';
import { isNotNow, isRetryable, translate } from './errors.js';
import type { PgUnitOfWork } from './unit-of-work.js';

/** Groups on the wire at once: while one waits for its COMMIT's flush, the next runs its reads. */
export const MAX_GROUPS_IN_FLIGHT = 1;
/** Works per group: enough for every client of a busy clinic's burst, small enough that a fallback stays cheap. */
export const MAX_GROUP_SIZE = 64;
/** Runs of a group that meets serialization failures before its works run alone. */
const GROUP_ATTEMPTS = 3;

interface Entry {
  work: Work<unknown>;
  resolve(value: unknown): void;
  reject(reason: unknown): void;
}

export interface SharedTransactionsDeps {
  /** Runs `body` in one SERIALIZABLE transaction, rolled back when it throws (see `PgStorage.transaction`). */
  transaction: <T>(lockAhead: boolean, body: (tx: PgUnitOfWork) => Promise<T>) => Promise<T>;
  feed: () => PgChangeFeed;
  /** Runs one work alone (its own transaction, with retries): the fallback. */
  alone: <R>(work: Work<R>) => Promise<R>;
  /** Writes the feed rows and commits; a failure is thrown (see `PgStorage.commit`). */
  commit: (tx: PgUnitOfWork) => Promise<CommittedChanges>;
  /** True for the error of a COMMIT whose answer was lost. */
  uncertain: (error: unknown) => boolean;
  logger?: Logger | undefined;
}

/** The group could not commit as a group: its works run alone. */
class GroupBroken extends Error {}

export class SharedTransactions {
  private readonly queue: Entry[] = [];
  private inFlight = 0;
  private scheduled = false;
  /** Groups committed, groups that fell back to running alone, and group reruns (for the tests). */
  readonly stats = { groups: 0, fallbacks: 0, retries: 0 };

  constructor(private readonly deps: SharedTransactionsDeps) {}

  run<R>(work: Work<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= MAX_GROUPS_IN_FLIGHT) return;
    this.scheduled = true;
    // The works queued in this turn of the event loop go together.
    setImmediate(() => {
      this.scheduled = false;
      while (this.queue.length > 0 && this.inFlight < MAX_GROUPS_IN_FLIGHT) {
        const group = this.queue.splice(0, MAX_GROUP_SIZE);
        this.inFlight++;
        void this.runGroup(group).finally(() => {
          this.inFlight--;
          if (this.queue.length > 0) this.schedule();
        });
      }
    });
  }

  private async runGroup(group: Entry[]): Promise<void> {
    if (group.length === 1) {
      const [only] = group as [Entry];
      await this.deps.alone(only.work).then(only.resolve, only.reject);
      return;
    }
    for (let attempt = 1; ; attempt++) {
      let outcome: { settled: PromiseSettledResult<unknown>[]; changes: CommittedChanges };
      try {
        outcome = await this.attempt(group);
      } catch (error) {
        // A COMMIT whose answer was lost may have happened; a database that cannot serve now (a lock held past the
        // driver's lock_timeout, a read-only standby) would only make each work wait again alone, holding a pooled
        // connection each: every work hears 503 at once.
        if (this.deps.uncertain(error) || isNotNow(error)) {
          const failure = translate(error);
          for (const entry of group) entry.reject(failure);
          return;
        }
        if (isRetryable(error) && attempt < GROUP_ATTEMPTS) {
          this.stats.retries++;
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 4 * attempt));
          continue;
        }
        this.stats.fallbacks++;
        if (!(error instanceof GroupBroken) && !isRetryable(error)) this.deps.logger?.debug({ err: error }, 'grupo de transações desfeito: cada uma roda sozinha');
        // Alone, and outside the lane: the next group need not wait for them (each has its own transaction).
        for (const entry of group) void this.deps.alone(entry.work).then(entry.resolve, entry.reject);
        return;
      }
      this.stats.groups++;
      // Listeners hear the commit before any work's promise settles, as with a unit of work alone.
      await this.deps.feed().workCommitted(outcome.changes);
      outcome.settled.forEach((s, i) => (s.status === 'fulfilled' ? group[i]!.resolve(s.value) : group[i]!.reject(s.reason)));
      return;
    }
  }

  /** One run of the group in one transaction: each work's outcome, and the changes committed. */
  private attempt(group: readonly Entry[]): Promise<{ settled: PromiseSettledResult<unknown>[]; changes: CommittedChanges }> {
    return this.deps.transaction(true, async (tx) => {
      const views = group.map(() => tx.view());
      const settled = await Promise.allSettled(group.map((entry, i) => entry.work(views[i]!.api)));
      await tx.settle();
      if (tx.failure !== undefined) throw tx.failure;
      // A work that failed after writing cannot be taken out of the transaction; an unexpected error is not a
      // refusal to keep: either way, every work runs alone.
      settled.forEach((s, i) => {
        if (s.status === 'rejected' && (views[i]!.wrote() || !(s.reason instanceof AppError))) throw new GroupBroken();
      });
      return { settled, changes: await this.deps.commit(tx) };
    });
  }
}
