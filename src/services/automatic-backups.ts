import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Submitted, TaskQueue } from '../infra/task-queue.js';

/** What an automatic backup asks of the `backup` lane: `tick` marks it, once for every process (see `once`). */
export interface BackupPayload {
  automatic: boolean;
  /** The interval of the clinic's clock the automatic backup belongs to (number of intervals since the epoch). */
  tick?: number;
}

/**
 * The automatic backup every `BACKUP_INTERVAL_MIN`: a backup task asked of the queue like any other, marked with
 * the interval it belongs to. Every process of a database runs this timer; the queue's board lets one task per
 * interval be made among them (the first process to ask makes it, the others join it), instead of one each.
 * Each process's timer fires once within every interval, so all of them name the same interval.
 */
export class AutomaticBackups {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: { queue: TaskQueue; clock: Clock; intervalMin: number; logger: Logger }) {}

  start(): void {
    if (this.deps.intervalMin <= 0) return;
    this.timer = setInterval(() => {
      this.tick().catch((error: unknown) => this.deps.logger.warn({ err: error }, 'backup automático não enfileirado'));
    }, this.deps.intervalMin * 60_000);
    this.timer.unref();
  }

  /** Asks for this interval's automatic backup (or joins the task already made for it, or a waiting backup). */
  tick(): Promise<Submitted<unknown>> {
    const intervalMs = Math.max(this.deps.intervalMin, 1) * 60_000;
    const tick = Math.floor(this.deps.clock.now().getTime() / intervalMs);
    return this.deps.queue.submit('backup', { automatic: true, tick } satisfies BackupPayload);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
