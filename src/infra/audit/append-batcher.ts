import { invalidEntries } from './line-format.js';
import type { AuditEntry } from './types.js';

/** One caller's append, as a trail's `commit` sees it. */
export interface PendingAppend {
  entries: AuditEntry[];
  /** Only the entries whose ids the trail does not hold yet (`appendMissing`). */
  onlyMissing: boolean;
}

interface Queued extends PendingAppend {
  resolve: (appended: number) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for an audit trail (the month files, or the database's table): appends asked in one turn of the
 * event loop, and those asked while a batch is being written, go out together in the next `commit` — one lock and
 * one sync for all of them. `commit` answers, per caller, the number of entries it appended or the error that
 * refused that caller alone; a thrown error refuses the whole batch.
 */
export class AppendBatcher {
  private queue: Queued[] = [];
  private draining: Promise<void> | undefined;

  constructor(private readonly commit: (batch: readonly PendingAppend[]) => Promise<readonly (number | Error)[]>) {}

  /** Resolves with the number of entries appended, once they are durable. */
  add(entries: AuditEntry[], onlyMissing: boolean): Promise<number> {
    const invalid = invalidEntries(entries);
    if (invalid) return Promise.reject(invalid);
    return new Promise((resolve, reject) => {
      this.queue.push({ entries, onlyMissing, resolve, reject });
      this.draining ??= this.drain();
    });
  }

  /** Resolves once nothing waits or is being written. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    // Let every append of this tick join the first batch.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      try {
        const outcomes = await this.commit(batch);
        batch.forEach((pending, i) => {
          const outcome = outcomes[i]!;
          if (typeof outcome === 'number') pending.resolve(outcome);
          else pending.reject(outcome);
        });
      } catch (error) {
        batch.forEach((pending) => pending.reject(error));
      }
    }
    this.draining = undefined;
  }
}
