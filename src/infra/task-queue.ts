import { randomUUID } from 'node:crypto';
import PQueue from 'p-queue';
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { problemSummary, type ProblemSummary } from '../core/problem-document.js';
import { formatInstant } from '../core/time.js';

import { TASK_STATUS, TASK_TIPOS, type TaskStatus, type TaskTipo } from '../schemas/task.schema.js';

export { TASK_STATUS, TASK_TIPOS, type TaskStatus, type TaskTipo };

/** What a task failed with, as a problem summary the API can show (built by `problemSummary`). */
export type TaskError = ProblemSummary;

/** The public record of a task. */
export interface TaskRecord {
  id: string;
  tipo: TaskTipo;
  status: TaskStatus;
  progresso: number;
  criadaEm: string;
  iniciadaEm?: string;
  concluidaEm?: string;
  resultado?: unknown;
  erro?: TaskError;
}

/** What a running task may tell the queue. */
export interface TaskContext {
  readonly id: string;
  progress(percent: number): void;
}

export type TaskHandler<P = unknown, R = unknown> = (payload: P, context: TaskContext) => Promise<R>;

/** A task just added (or the pending one it joined): its live record and the promise of its outcome. */
export interface Enqueued<R> {
  task: TaskRecord;
  done: Promise<R>;
  /** True when no new task was made: the request joined a pending task of its lane (see `coalesce`). */
  joined: boolean;
}

export interface TaskQueueDeps {
  clock: Clock;
  timezone: string;
  logger: Logger;
  /** Finished tasks kept for `/sistema/tasks`; older ones are forgotten. */
  historyLimit?: number;
  /** Default bound of waiting tasks per type, for lanes registered without their own `maxPending`. */
  maxPending?: number;
}

interface Lane {
  queue: PQueue;
  handler: TaskHandler;
  describe: (result: unknown) => unknown;
  maxPending: number;
  coalesce: ((pending: unknown, incoming: unknown) => boolean) | undefined;
  /** Tasks of this lane not started yet, oldest first, with what `add` returned for them. */
  waiting: Map<string, { payload: unknown; enqueued: Enqueued<unknown> }>;
}

export interface LaneOptions<P, R> {
  /** How many tasks of this type run at once. */
  concurrency: number;
  /**
   * Tasks of this type that may wait at once; past that, `add` refuses with 503 (back-pressure instead of
   * unbounded memory). Each type has its own bound, so a flood of one type never starves another.
   */
  maxPending?: number;
  /**
   * When given, `add` returns a waiting task of this type for which `coalesce(itsPayload, newPayload)` is
   * true instead of making a new one (a second backup asked while one waits is the same backup).
   */
  coalesce?: (pending: P, incoming: P) => boolean;
  /** What of the result goes into the task's `resultado` (default: all of it). */
  describe?: (result: R) => unknown;
}

/**
 * The in-process producer/consumer queue. Producers (request handlers) `add` tasks; each task type has a
 * lane — a FIFO with its own number of consumers and its own bound of waiting tasks — so slow or flooded
 * backups and reports never hold up bookings.
 * Booking lanes run many consumers at once on purpose: their storage writes then meet in one group commit.
 *
 * Records go `pendente → executando → concluida | falhou`; the history of finished tasks is bounded.
 */
export class TaskQueue {
  private readonly lanes = new Map<TaskTipo, Lane>();
  private readonly records = new Map<string, TaskRecord>();
  private readonly historyLimit: number;
  private readonly defaultMaxPending: number;
  private accepting = true;
  /** Tasks not started yet, and how to fail each if the queue closes first. */
  private readonly waiting = new Map<string, (error: unknown) => void>();

  constructor(private readonly deps: TaskQueueDeps) {
    this.historyLimit = deps.historyLimit ?? 1000;
    this.defaultMaxPending = deps.maxPending ?? 10_000;
  }

  /** Registers the consumer of a task type and how many may run at once. */
  register<P, R>(tipo: TaskTipo, handler: TaskHandler<P, R>, options: LaneOptions<P, R>): void {
    this.lanes.set(tipo, {
      queue: new PQueue({ concurrency: options.concurrency }),
      handler: handler as TaskHandler,
      describe: (options.describe ?? ((r: R) => r)) as (result: unknown) => unknown,
      maxPending: options.maxPending ?? this.defaultMaxPending,
      coalesce: options.coalesce as Lane['coalesce'],
      waiting: new Map(),
    });
  }

  /**
   * Adds a task, or returns the waiting one it coalesces with. Throws FILA_CHEIA (503) when too many of
   * its type wait, or when shutting down.
   */
  add<R>(tipo: TaskTipo, payload: unknown): Enqueued<R> {
    const lane = this.lanes.get(tipo);
    if (!lane) throw new Error(`nenhum consumidor para tarefas ${tipo}`);
    if (!this.accepting) throw new AppError('FILA_CHEIA', 'O servidor está encerrando; tente novamente em instantes.');
    if (lane.coalesce) {
      for (const waiting of lane.waiting.values()) {
        if (lane.coalesce(waiting.payload, payload)) return { ...(waiting.enqueued as Enqueued<R>), joined: true };
      }
    }
    if (lane.queue.size >= lane.maxPending) {
      throw new AppError('FILA_CHEIA', 'Há tarefas demais desse tipo na fila; tente novamente em instantes.');
    }
    const task: TaskRecord = { id: randomUUID(), tipo, status: 'pendente', progresso: 0, criadaEm: this.now() };
    this.records.set(task.id, task);
    const context: TaskContext = {
      id: task.id,
      progress: (percent) => {
        task.progresso = Math.max(task.progresso, Math.min(100, Math.round(percent)));
      },
    };
    let abandon: (error: unknown) => void = () => undefined;
    const abandoned = new Promise<never>((_, reject) => (abandon = reject));
    this.waiting.set(task.id, (error) => {
      task.status = 'falhou';
      task.erro = problemSummary(error);
      task.concluidaEm = this.now();
      abandon(error);
    });
    // Registered before `queue.add`, which may start the task at once (and then removes it from `waiting`).
    const enqueued = { task, joined: false } as Enqueued<R>;
    lane.waiting.set(task.id, { payload, enqueued: enqueued as Enqueued<unknown> });
    const run = lane.queue.add(async () => {
      this.waiting.delete(task.id);
      lane.waiting.delete(task.id);
      task.status = 'executando';
      task.iniciadaEm = this.now();
      try {
        const result = await lane.handler(payload, context);
        task.status = 'concluida';
        task.progresso = 100;
        const resultado = lane.describe(result);
        if (resultado !== undefined) task.resultado = resultado;
        return result as R;
      } catch (error) {
        task.status = 'falhou';
        task.erro = problemSummary(error);
        if (!(error instanceof AppError) || error.status >= 500) {
          this.deps.logger.error({ err: error, taskId: task.id, tipo }, 'tarefa falhou');
        }
        throw error;
      } finally {
        task.concluidaEm = this.now();
        this.finished();
      }
    }) as Promise<R>;
    const done = Promise.race([run, abandoned]);
    // Callers that only want the record (respond-async) must not cause an unhandled rejection.
    done.catch(() => undefined);
    enqueued.done = done;
    return enqueued;
  }

  get(id: string): TaskRecord | undefined {
    return this.records.get(id);
  }

  /** Most recent first. */
  list(filter: { tipo?: TaskTipo | undefined; status?: TaskStatus | undefined; limit: number }): TaskRecord[] {
    const out: TaskRecord[] = [];
    const all = [...this.records.values()];
    for (let i = all.length - 1; i >= 0 && out.length < filter.limit; i--) {
      const task = all[i]!;
      if ((!filter.tipo || task.tipo === filter.tipo) && (!filter.status || task.status === filter.status)) out.push(task);
    }
    return out;
  }

  get pendingCount(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.queue.size;
    return n;
  }

  /** Counts by status, for `/sistema/status`. */
  counts(): Record<TaskStatus, number> {
    const counts: Record<TaskStatus, number> = { pendente: 0, executando: 0, concluida: 0, falhou: 0 };
    for (const task of this.records.values()) counts[task.status]++;
    return counts;
  }

  /** Resolves when no task waits or runs. */
  async onIdle(): Promise<void> {
    await Promise.all([...this.lanes.values()].map((lane) => lane.queue.onIdle()));
  }

  /** Stops accepting and waits for what is queued (bounded by `timeoutMs`). */
  async close(timeoutMs = 10_000): Promise<void> {
    this.accepting = false;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.onIdle(), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    for (const lane of this.lanes.values()) {
      lane.queue.clear();
      lane.waiting.clear();
    }
    const shutdown = new AppError('FILA_CHEIA', 'O servidor encerrou antes de executar a tarefa.');
    for (const fail of this.waiting.values()) fail(shutdown);
    this.waiting.clear();
  }

  private finished(): void {
    if (this.records.size <= this.historyLimit) return;
    // Forget the oldest finished tasks; pending and running ones always stay.
    for (const [id, task] of this.records) {
      if (this.records.size <= this.historyLimit) break;
      if (task.status === 'concluida' || task.status === 'falhou') this.records.delete(id);
    }
  }

  private now(): string {
    return formatInstant(this.deps.clock.now(), this.deps.timezone);
  }
}
