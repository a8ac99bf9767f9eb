import path from 'node:path';
import lockfile from 'proper-lockfile';
import { StorageUnavailableError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';

/** Name of the lock directory inside the data directory. */
export const LOCK_NAME = '.agenda.lock';
/**
 * Held for the whole of a restore, by whichever process runs it: a second restore asked of any process meanwhile is
 * refused at once (409), where waiting for the data lock would answer 503 "try again" and could run it twice.
 */
export const RESTORE_LOCK_NAME = '.agenda-restauracao.lock';

export interface DirectoryLockOptions {
  /** A lock not refreshed for this long was left by a dead process and may be taken over. */
  staleMs: number;
  /** How long a writer waits for the lock before giving up with 503. */
  waitMs: number;
  logger: Logger;
  /** The lock directory's name inside the data directory (default {@link LOCK_NAME}). */
  name?: string;
}

/**
 * The inter-process lock over a data directory, built on proper-lockfile: an atomic `mkdir` of the lock
 * directory, whose mtime the holder refreshes every `staleMs / 2`. A process killed while holding it
 * stops refreshing, so after `staleMs` another process may take it over: that is how a stale lock left by
 * `kill -9` is recovered. If our own refresh fails (the lock was taken from us) proper-lockfile would throw
 * from a timer and crash the process; we record it instead and fail the write in progress.
 */
export class DirectoryLock {
  private compromisedError: Error | undefined;
  private held = false;
  /** Last time the event loop was seen turning while the lock was held. */
  private lastTick = 0;
  private ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly dir: string,
    private readonly options: DirectoryLockOptions,
  ) {}

  get isHeld(): boolean {
    return this.held;
  }

  /**
   * Throws if the lock was lost while held, or may have been: proper-lockfile refreshes the lock from a
   * timer, so if this process's event loop stood still for half the stale time (a long synchronous task, a
   * stopped process), another process may already have taken the lock over — and the timer that would say
   * so has not had a chance to run yet. Either way the write must not happen.
   */
  assertIntact(): void {
    if (this.compromisedError) {
      throw new StorageUnavailableError('A trava dos arquivos de dados foi perdida durante a escrita.', this.compromisedError);
    }
    const stalled = Date.now() - this.lastTick;
    if (this.held && stalled > this.options.staleMs / 2) {
      throw new StorageUnavailableError(`O processo ficou parado ${stalled} ms segurando a trava; a escrita foi recusada por segurança.`);
    }
  }

  /**
   * Waits for the lock; returns the function that releases it. Throws {@link StorageUnavailableError} when it is
   * still held by another after `waitMs` (its `cause` has proper-lockfile's code `ELOCKED`).
   */
  async acquire(waitMs = this.options.waitMs): Promise<() => Promise<void>> {
    const { staleMs, logger } = this.options;
    this.compromisedError = undefined;
    let release: () => Promise<void>;
    try {
      // proper-lockfile keeps its holds in a map keyed by the first argument: each lock of a directory needs its own.
      const lockPath = path.join(this.dir, this.options.name ?? LOCK_NAME);
      release = await lockfile.lock(lockPath, {
        lockfilePath: lockPath,
        realpath: false,
        stale: staleMs,
        update: Math.max(1000, Math.floor(staleMs / 2)),
        retries: { retries: Math.ceil(waitMs / 20) + 5, factor: 1.3, minTimeout: 2, maxTimeout: 20, randomize: true },
        onCompromised: (error) => {
          this.compromisedError = error;
          logger.error({ err: error }, 'trava dos dados comprometida');
        },
      });
    } catch (error) {
      throw new StorageUnavailableError('Não foi possível obter a trava dos arquivos de dados a tempo.', error);
    }
    this.held = true;
    this.lastTick = Date.now();
    this.ticker = setInterval(() => (this.lastTick = Date.now()), 100).unref();
    return async () => {
      this.held = false;
      clearInterval(this.ticker);
      try {
        await release();
      } catch (error) {
        // Already released or taken over; nothing of ours is left to undo.
        logger.warn({ err: error }, 'falha ao liberar a trava dos dados');
      }
    };
  }
}
