import path from 'node:path';
import lockfile from 'proper-lockfile';
import { StorageUnavailableError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

/** Name of the lock directory inside the data directory. */
export const LOCK_NAME = '.agenda.lock';

export interface DirectoryLockOptions {
  /** A lock not refreshed for this long was left by a dead process and may be taken over. */
  staleMs: number;
  /** How long a writer waits for the lock before giving up with 503. */
  waitMs: number;
  logger: Logger;
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

  constructor(
    private readonly dir: string,
    private readonly options: DirectoryLockOptions,
  ) {}

  get isHeld(): boolean {
    return this.held;
  }

  /** Throws if the lock was lost while held: the writes made under it can no longer be trusted. */
  assertIntact(): void {
    if (this.compromisedError) {
      throw new StorageUnavailableError('A trava dos arquivos de dados foi perdida durante a escrita.', this.compromisedError);
    }
  }

  /** Waits for the lock; returns the function that releases it. */
  async acquire(waitMs = this.options.waitMs): Promise<() => Promise<void>> {
    const { staleMs, logger } = this.options;
    this.compromisedError = undefined;
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(this.dir, {
        lockfilePath: path.join(this.dir, LOCK_NAME),
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
    return async () => {
      this.held = false;
      try {
        await release();
      } catch (error) {
        // Already released or taken over; nothing of ours is left to undo.
        logger.warn({ err: error }, 'falha ao liberar a trava dos dados');
      }
    };
  }
}
