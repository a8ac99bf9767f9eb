import { randomUUID } from 'node:crypto';
import PQueue from 'p-queue';
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { causesOf, type Logger } from '../core/logger.js';
import { problemSummary } from '../core/problem-document.js';
import { formatInstant } from '../core/time.js';
import type { TaskBoard } from './task-board.js';
import type { TaskFilter, TaskRecord, TaskStatus, TaskTipo } from './task-record.js';
import { TaskRecords } from './task-records.js';

export { TASK_STATUS, TASK_TIPOS, type TaskError, type TaskFilter, type TaskRecord, type TaskStatus, type TaskTipo } from './task-record.js';

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
  /** True when no new task was made: the request joined a pending task of its lane (see `key`). */
  joined: boolean;
  /**
   * Resolves once every process of the storage can find the record (at once without a board): await it before
   * telling a client where the task is. Rejects with 503 when the board stays unreachable. Asking is what makes
   * the record urgent: one nobody asks for reaches the board with its final state, or within
   * `TaskPublisher`'s QUIET_MS (a synchronous booking's task, whose id no client is told).
   */
  visible(): Promise<void>;
}

/**
 * What `submit` returns: like {@link Enqueued}, but a task that another process holds (and runs) has no
 * outcome here (`done` undefined): its record is the answer.
 */
export type Submitted<R> = Omit<Enqueued<R>, 'done'> & { done: Promise<R> | undefined };

export interface TaskQueueDeps {
  clock: Clock;
  timezone: string;
  logger: Logger;
  /** Finished tasks kept for `/sistema/tasks`; older ones are forgotten. */
  historyLimit?: number;
  /** Default bound of waiting tasks per type, for lanes registered without their own `maxPending`. */
  maxPending?: number;
  /** Where the records are shared with the storage's other processes (PostgreSQL); none: this process only. */
  board?: TaskBoard | undefined;
}

interface Lane {
  queue: PQueue;
  handler: TaskHandler;
  describe: (result: unknown) => unknown;
  maxPending: number;
  key: ((payload: unknown) => string) | undefined;
  once: ((payload: unknown) => string | undefined) | undefined;
  medicoOf: ((payload: unknown) => string | undefined) | undefined;
  /** Tasks of this lane not started yet, oldest first, with their key and what `add` returned for them. */
  waiting: Map<string, { key: string | undefined; enqueued: Enqueued<unknown> }>;
  /** Keys being claimed on the board right now: a second request for one joins the first's outcome. */
  claiming: Map<string, Promise<Submitted<unknown>>>;
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
   * When given, tasks of this type coalesce and are asked for with `submit`: a request whose key equals that of
   * a waiting task of this type is that task instead of a new one (a second backup asked while one waits is
   * the same backup). With a board, across every process: the key is claimed on the board before the task
   * enters its lane, and a task another process holds is answered without running anything here.
   */
  key?: (payload: P) => string;
  /**
   * A mark that at most one task ever carries, across every process of a board (an automatic backup's tick):
   * a request whose mark a task already has joins that task, whatever its status. Ignored without a board.
   */
  once?: (payload: P) => string | undefined;
  /** What of the result goes into the task's `resultado` (default: all of it). */
  describe?: (result: R) => unknown;
  /** The médico a task is about (its record's `medicoId`: a médico user sees only the tasks of their own). */
  medicoOf?: (payload: P) => string | undefined;
}

/**
 * The in-process producer/consumer queue. Producers (request handlers) `add` tasks; each task type has a
 * lane — a FIFO with its own number of consumers and its own bound of waiting tasks — so slow or flooded
 * backups and reports never hold up bookings.
 * Booking lanes run many consumers at once on purpose: their storage writes then meet in one group commit.
 *
 * Records go `pendente → executando → concluida | falhou`; the history of finished tasks is bounded. With a
 * board (PostgreSQL), every change of a record is also published to it, write-behind (see `TaskPublisher`), and
 * `find`/`recent` read the other processes' tasks there; the lanes stay in this process.
 */
export class TaskQueue {
  private readonly lanes = new Map<TaskTipo, Lane>();
  private readonly records: TaskRecords;
  private readonly defaultMaxPending: number;
  private accepting = true;
  /** Tasks not started yet, and how to fail each if the queue closes first. */
  private readonly waiting = new Map<string, (error: unknown) => void>();

  constructor(private readonly deps: TaskQueueDeps) {
    this.defaultMaxPending = deps.maxPending ?? 10_000;
    this.records = new TaskRecords({ board: deps.board, logger: deps.logger, historyLimit: deps.historyLimit ?? 1000 });
  }

  /** Registers the consumer of a task type and how many may run at once. */
  register<P, R>(tipo: TaskTipo, handler: TaskHandler<P, R>, options: LaneOptions<P, R>): void {
    this.lanes.set(tipo, {
      queue: new PQueue({ concurrency: options.concurrency }),
      handler: handler as TaskHandler,
      describe: (options.describe ?? ((r: R) => r)) as (result: unknown) => unknown,
      maxPending: options.maxPending ?? this.defaultMaxPending,
      key: options.key as Lane['key'],
      once: options.once as Lane['once'],
      medicoOf: options.medicoOf as Lane['medicoOf'],
      waiting: new Map(),
      claiming: new Map(),
    });
  }

  /**
   * Adds a task of a lane that does not coalesce (those go through `submit`). Synchronous up to the task being
   * in its lane: the booking path relies on it. Throws FILA_CHEIA (503) when too many of its type wait, or
   * when shutting down.
   */
  add<R>(tipo: TaskTipo, payload: unknown): Enqueued<R> {
    const lane = this.laneOf(tipo);
    if (lane.key) throw new Error(`tarefas ${tipo} se juntam por chave: use submit`);
    this.assertRoom(lane);
    return this.enqueue<R>(lane, this.newRecord(tipo, lane, payload), payload, undefined);
  }

  /**
   * Adds a task, or answers the waiting one with the same key (see `LaneOptions.key`): in this process, or — with
   * a board — in any process, decided by the board before anything enters a lane.
   */
  async submit<R>(tipo: TaskTipo, payload: unknown): Promise<Submitted<R>> {
    const lane = this.laneOf(tipo);
    if (!lane.key) return this.add<R>(tipo, payload);
    this.assertAccepting();
    const key = lane.key(payload);
    for (const waiting of lane.waiting.values()) {
      if (waiting.key === key) return { ...(waiting.enqueued as Enqueued<R>), joined: true };
    }
    const claiming = lane.claiming.get(key);
    if (claiming) return { ...((await claiming) as Submitted<R>), joined: true };
    this.assertRoom(lane);
    const claim = this.claim<R>(lane, tipo, key, payload);
    lane.claiming.set(key, claim as Promise<Submitted<unknown>>);
    try {
      return await claim;
    } finally {
      lane.claiming.delete(key);
    }
  }

  /** This process's record of a task (the freshest there is). */
  get(id: string): TaskRecord | undefined {
    return this.records.get(id);
  }

  /** A task of any process: this one's record, else the board's. */
  find(id: string): Promise<TaskRecord | undefined> {
    return this.records.find(id);
  }

  /** This process's tasks, most recent first. */
  list(filter: TaskFilter): TaskRecord[] {
    return this.records.list(filter);
  }

  /** Every process's tasks (with a board), most recent first: see `TaskRecords.recent`. */
  recent(filter: TaskFilter): Promise<TaskRecord[]> {
    return this.records.recent(filter);
  }

  get pendingCount(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.queue.size;
    return n;
  }

  /** Counts by status of this process's tasks, for `/sistema/status`. */
  counts(): Record<TaskStatus, number> {
    return this.records.counts();
  }

  /** Resolves once every record change made so far is on the board (at once without one). */
  async published(): Promise<void> {
    await this.records.flush();
  }

  /** Resolves when no task waits or runs. */
  async onIdle(): Promise<void> {
    await Promise.all([...this.lanes.values()].map((lane) => lane.queue.onIdle()));
  }

  /** Stops accepting, waits for what is queued (bounded by `timeoutMs`), and writes the records' last states to the board. */
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
    await this.records.close();
  }

  /** The key claimed on the board (when there is one), then the task into its lane; or the task that holds the key. */
  private async claim<R>(lane: Lane, tipo: TaskTipo, key: string, payload: unknown): Promise<Submitted<R>> {
    const task = this.newRecord(tipo, lane, payload);
    const board = this.records.board;
    if (board) {
      const once = lane.once?.(payload);
      for (let attempt = 1; ; attempt++) {
        const holder = await board.claim(task, key, once);
        // Its own id: a claim retried after a lost connection had been written the first time.
        if (holder === undefined || holder === task.id) break;
        // Our own task, started since: the board has not heard yet. Tell it, and ask again.
        if (attempt === 1 && this.records.get(holder) && !lane.waiting.has(holder)) {
          await this.records.flush();
          continue;
        }
        const record = this.records.get(holder) ?? (await board.get(holder));
        if (!record) throw new AppError('FILA_CHEIA', 'A tarefa equivalente deixou de existir; tente novamente em instantes.');
        const local = lane.waiting.get(holder)?.enqueued as Enqueued<R> | undefined;
        return local ? { ...local, joined: true } : { task: record, done: undefined, joined: true, visible: () => Promise.resolve() };
      }
      if (!this.accepting) {
        // Closed while the claim was on its way: the board's record must not wait for ever.
        this.fail(task, new AppError('FILA_CHEIA', 'O servidor está encerrando; tente novamente em instantes.'));
        board.publish([task]).catch(() => undefined);
        throw new AppError('FILA_CHEIA', 'O servidor está encerrando; tente novamente em instantes.');
      }
    }
    return this.enqueue<R>(lane, task, payload, key);
  }

  /** Puts a new task into its lane. A keyed one was claimed on the board already; any other is published now. */
  private enqueue<R>(lane: Lane, task: TaskRecord, payload: unknown, key: string | undefined): Enqueued<R> {
    const visible = this.records.add(task, key !== undefined);
    const context: TaskContext = {
      id: task.id,
      progress: (percent) => {
        const progresso = Math.max(task.progresso, Math.min(100, Math.round(percent)));
        if (progresso === task.progresso) return;
        task.progresso = progresso;
        this.records.changed(task);
      },
    };
    let abandon: (error: unknown) => void = () => undefined;
    const abandoned = new Promise<never>((_, reject) => (abandon = reject));
    this.waiting.set(task.id, (error) => {
      this.fail(task, error);
      task.concluidaEm = this.now();
      this.records.changed(task);
      abandon(error);
    });
    // Registered before `queue.add`, which may start the task at once (and then removes it from `waiting`).
    const enqueued = { task, joined: false, visible } as Enqueued<R>;
    lane.waiting.set(task.id, { key, enqueued: enqueued as Enqueued<unknown> });
    const run = lane.queue.add(async () => {
      this.waiting.delete(task.id);
      lane.waiting.delete(task.id);
      task.status = 'executando';
      task.iniciadaEm = this.now();
      // A keyed task no longer holds its key once it runs: other processes should learn it at once.
      this.records.changed(task, key !== undefined);
      try {
        const result = await lane.handler(payload, context);
        task.status = 'concluida';
        task.progresso = 100;
        const resultado = lane.describe(result);
        if (resultado !== undefined) task.resultado = resultado;
        return result as R;
      } catch (error) {
        this.fail(task, error);
        // As for requests (`errorHandler`): a 503 is a state the service passes through, a warning naming its causes.
        if (error instanceof AppError && error.status === 503) {
          this.deps.logger.warn({ taskId: task.id, tipo: task.tipo, code: error.code, detalhe: error.detail, causas: causesOf(error) }, 'tarefa falhou');
        } else if (!(error instanceof AppError) || error.status >= 500) {
          this.deps.logger.error({ err: error, taskId: task.id, tipo: task.tipo }, 'tarefa falhou');
        }
        throw error;
      } finally {
        task.concluidaEm = this.now();
        this.records.changed(task);
        this.records.trim();
      }
    }) as Promise<R>;
    const done = Promise.race([run, abandoned]);
    // Callers that only want the record (respond-async) must not cause an unhandled rejection.
    done.catch(() => undefined);
    enqueued.done = done;
    return enqueued;
  }

  private laneOf(tipo: TaskTipo): Lane {
    const lane = this.lanes.get(tipo);
    if (!lane) throw new Error(`nenhum consumidor para tarefas ${tipo}`);
    return lane;
  }

  private assertAccepting(): void {
    if (!this.accepting) throw new AppError('FILA_CHEIA', 'O servidor está encerrando; tente novamente em instantes.');
  }

  private assertRoom(lane: Lane): void {
    this.assertAccepting();
    if (lane.queue.size >= lane.maxPending) {
      throw new AppError('FILA_CHEIA', 'Há tarefas demais desse tipo na fila; tente novamente em instantes.');
    }
  }

  private newRecord(tipo: TaskTipo, lane: Lane, payload: unknown): TaskRecord {
    const medicoId = lane.medicoOf?.(payload);
    return { id: randomUUID(), tipo, ...(medicoId === undefined ? {} : { medicoId }), status: 'pendente', progresso: 0, criadaEm: this.now() };
  }

  private fail(task: TaskRecord, error: unknown): void {
    task.status = 'falhou';
    task.erro = problemSummary(error);
  }

  private now(): string {
    return formatInstant(this.deps.clock.now(), this.deps.timezone);
  }
}
