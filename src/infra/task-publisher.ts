import { StorageUnavailableError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { TaskBoard } from './task-board.js';
import { isFinished, type TaskRecord } from './task-record.js';

/** How long changes (other than creations) gather before a flush: one statement carries every record changed meanwhile. */
export const FLUSH_DELAY_MS = 20;
/** Retries of a failed flush back off up to this. */
const RETRY_MAX_MS = 2_000;
/** How long `visible` waits for a flush before it gives up with 503 (the database is away). */
const VISIBLE_TIMEOUT_MS = 10_000;
/**
 * How long a new record nobody has asked to see may wait before it is written (see `created`): a synchronous
 * booking's task lives about a tenth of that under load, so it is written once, finished.
 */
export const QUIET_MS = 500;

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout;
}

/**
 * The queue's records, copied to the board write-behind. A change marks its record dirty; a flush writes every
 * dirty record's current state in one statement. One flush runs at a time, and what changes meanwhile waits for
 * the next one, so a burst of bookings costs a round trip per flush, not one each. A new record is flushed at
 * once when someone waits for it (`visible`: a client is about to be told where the task is), and otherwise when
 * it finishes or after {@link QUIET_MS}, whichever comes first; other changes at most {@link FLUSH_DELAY_MS}
 * later. A flush that fails leaves its records dirty and is tried again, backing off.
 */
export class TaskPublisher {
  private readonly dirty = new Map<string, TaskRecord>();
  /** New records not yet due (see `created`), with when they were made; in the order they were made. */
  private readonly quiet = new Map<string, { task: TaskRecord; since: number }>();
  private quietTimer: NodeJS.Timeout | undefined;
  /** Records still unwritten when the publisher closed: asking for them afterwards is a 503, not a success. */
  private readonly lost = new Set<string>();
  /** Records not yet written once, and who waits for them to be (see `visible`). */
  private readonly unseen = new Map<string, Waiter[]>();
  /** The board's copy of each record whose last written state is not final: what every process answers now. */
  private readonly published = new Map<string, TaskRecord>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private retryMs = 0;
  private closed = false;

  constructor(private readonly deps: { board: TaskBoard; logger: Logger }) {}

  /**
   * `task` was made in this process and is not on the board yet. It is written at once when someone asks to see
   * it (`visible`), else when it finishes or {@link QUIET_MS} after now: most tasks (a synchronous booking's,
   * whose id no client is told) are then written once, in their final state, instead of twice — on PostgreSQL
   * that halves the board's upserts per booking. Until written, another process's `/sistema/tasks` does not list
   * it; this process does, and nothing is lost (a task whose process dies before writing it had no one waiting).
   */
  created(task: TaskRecord): void {
    this.unseen.set(task.id, []);
    this.quiet.set(task.id, { task, since: performance.now() });
    if (!this.quietTimer && !this.closed) {
      this.quietTimer = setTimeout(() => this.wakeQuiet(), QUIET_MS);
      this.quietTimer.unref();
    }
  }

  /** `task` changed: its state will be on the board within a flush. `soon`: flush now. */
  changed(task: TaskRecord, soon = false): void {
    // A quiet record's state lives in the object itself: written once it is due.
    if (this.quiet.has(task.id) && !soon && !isFinished(task.status)) return;
    this.quiet.delete(task.id);
    this.dirty.set(task.id, task);
    this.schedule(soon ? 0 : FLUSH_DELAY_MS);
  }

  /** Quiet records made {@link QUIET_MS} ago or more become dirty; the timer follows the next one. */
  private wakeQuiet(): void {
    this.quietTimer = undefined;
    const due = performance.now() - QUIET_MS;
    for (const [id, { task, since }] of this.quiet) {
      if (since > due) {
        if (!this.closed) {
          this.quietTimer = setTimeout(() => this.wakeQuiet(), since - due);
          this.quietTimer.unref();
        }
        break;
      }
      this.quiet.delete(id);
      this.dirty.set(id, task);
    }
    if (this.dirty.size > 0) this.schedule(FLUSH_DELAY_MS);
  }

  /**
   * Resolves once `task` is on the board (at once if it already is), so a client told where to find it finds
   * it on any process. Rejects with 503 when no flush succeeds in time.
   */
  visible(task: TaskRecord): Promise<void> {
    const waiters = this.unseen.get(task.id);
    if (!waiters) return this.lost.has(task.id) ? Promise.reject(closedUnwritten()) : Promise.resolve();
    if (this.quiet.has(task.id)) this.changed(task, true);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new StorageUnavailableError('O registro da tarefa não pôde ser gravado no banco de dados; consulte /sistema/tasks em instantes.'));
      }, VISIBLE_TIMEOUT_MS);
      timer.unref();
      const waiter: Waiter = { resolve, reject, timer };
      waiters.push(waiter);
    });
  }

  /**
   * Writes every change made so far, quiet records included (after a flush in flight). Rejects when the board
   * refuses.
   */
  async flush(): Promise<void> {
    for (const [id, { task }] of this.quiet) this.dirty.set(id, task);
    this.quiet.clear();
    await this.write();
  }

  /** Writes what is dirty now (after a write in flight). Rejects when the board refuses. */
  private async write(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.flushing) await this.flushing.catch(() => undefined);
    if (this.dirty.size === 0) return;
    const batch = [...this.dirty.values()];
    // Copies: the live records keep changing while the statement is on its way.
    const rows = batch.map((task) => structuredClone(task));
    this.dirty.clear();
    this.flushing = this.deps.board.publish(rows);
    try {
      await this.flushing;
    } catch (error) {
      for (const task of batch) if (!this.dirty.has(task.id)) this.dirty.set(task.id, task);
      throw error;
    } finally {
      this.flushing = undefined;
    }
    for (const row of rows) {
      if (isFinished(row.status)) this.published.delete(row.id);
      else this.published.set(row.id, row);
    }
    for (const task of batch) this.seen(task.id);
  }

  /**
   * `task` as every process can answer it now: the copy last written to the board while that one is not final,
   * so a client polling a task through several processes never sees it go back (concluida here, then executando
   * on a process that reads the board before the final state is written). A task that has finished here is
   * written first, then answered: the process that ran it says concluida as soon as it can, and never before the
   * board does. When the board cannot be written, the last copy it has is the answer.
   */
  async shown(task: TaskRecord): Promise<TaskRecord> {
    // Asked for by id: a quiet record is written first, so no process answers it before the board can.
    if (this.quiet.has(task.id)) await this.visible(task).catch(() => undefined);
    const written = this.published.get(task.id);
    if (!written) return task;
    if (!isFinished(task.status)) return written;
    try {
      await this.write();
    } catch {
      return this.published.get(task.id) ?? task;
    } finally {
      if (this.dirty.size > 0) this.schedule(FLUSH_DELAY_MS);
    }
    return this.published.get(task.id) ?? task;
  }

  /** A last flush (failures logged: the records are then left as the board had them, and read as abandoned). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.quietTimer);
    await this.flush().catch((error: unknown) => this.deps.logger.warn({ err: error, tarefas: this.dirty.size }, 'registros de tarefas não gravados no banco ao encerrar'));
    for (const id of [...this.unseen.keys()]) {
      this.lost.add(id);
      this.seen(id, closedUnwritten());
    }
  }

  private seen(id: string, error?: unknown): void {
    const waiters = this.unseen.get(id);
    if (!waiters) return;
    this.unseen.delete(id);
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      if (error) waiter.reject(error);
      else waiter.resolve();
    }
  }

  private schedule(delayMs: number): void {
    if (this.closed || (this.timer && delayMs > 0)) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.write().then(
        () => {
          this.retryMs = 0;
          if (this.dirty.size > 0) this.schedule(FLUSH_DELAY_MS);
        },
        (error: unknown) => {
          if (this.retryMs === 0) this.deps.logger.warn({ err: error }, 'registros de tarefas não gravados no banco; nova tentativa em breve');
          this.retryMs = Math.min(Math.max(this.retryMs * 2, 100), RETRY_MAX_MS);
          this.schedule(this.retryMs);
        },
      );
    }, delayMs);
    this.timer.unref();
  }
}

const closedUnwritten = () => new StorageUnavailableError('O servidor encerrou antes de gravar o registro da tarefa.');
