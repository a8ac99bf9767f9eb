import type { Logger } from '../core/logger.js';
import type { TaskBoard } from './task-board.js';
import { TaskPublisher } from './task-publisher.js';
import { isFinished, matches, type TaskFilter, type TaskRecord, type TaskStatus } from './task-record.js';

/**
 * The queue's task records: this process's, in memory (the freshest state of each, bounded history), and — with a
 * board — every process's, read there. Each change of a record here is published to the board, write-behind.
 */
export class TaskRecords {
  private readonly records = new Map<string, TaskRecord>();
  private readonly publisher: TaskPublisher | undefined;

  constructor(private readonly deps: { board: TaskBoard | undefined; logger: Logger; historyLimit: number }) {
    this.publisher = deps.board ? new TaskPublisher({ board: deps.board, logger: deps.logger }) : undefined;
  }

  /** The board records are shared on, if any. */
  get board(): TaskBoard | undefined {
    return this.deps.board;
  }

  /**
   * Keeps a record made in this process, and returns what waits until every process can find it: at once without
   * a board or when its claim already wrote it there (`onBoard`), else the flush that writes it — which asking
   * hastens (see `TaskPublisher.created`).
   */
  add(task: TaskRecord, onBoard: boolean): () => Promise<void> {
    this.records.set(task.id, task);
    const publisher = this.publisher;
    if (!publisher || onBoard) return () => Promise.resolve();
    publisher.created(task);
    return () => publisher.visible(task);
  }

  /** `task` changed: the board hears of it within a flush (`soon`: at once). */
  changed(task: TaskRecord, soon = false): void {
    this.publisher?.changed(task, soon);
  }

  /** This process's record of a task (the freshest there is). */
  get(id: string): TaskRecord | undefined {
    return this.records.get(id);
  }

  /**
   * A task of any process: this one's record as every process can answer it (see `TaskPublisher.shown`), else
   * the board's.
   */
  async find(id: string): Promise<TaskRecord | undefined> {
    const own = this.records.get(id);
    if (own) return this.publisher ? await this.publisher.shown(own) : own;
    return this.deps.board?.get(id);
  }

  /** This process's tasks, most recent first. */
  list(filter: TaskFilter): TaskRecord[] {
    const out: TaskRecord[] = [];
    const all = [...this.records.values()];
    for (let i = all.length - 1; i >= 0 && out.length < filter.limit; i--) {
      if (matches(all[i]!, filter)) out.push(all[i]!);
    }
    return out;
  }

  /**
   * Every process's tasks, most recent first: the board's, with this process's fresher states in place of what
   * it has of them, and this process's tasks too new to be there yet. Without a board, `list`.
   */
  async recent(filter: TaskFilter): Promise<TaskRecord[]> {
    const local = this.list(filter);
    if (!this.deps.board) return local;
    const shared = await this.deps.board.list(filter);
    const onBoard = new Set(shared.map((task) => task.id));
    const merged = [
      ...local.filter((task) => !onBoard.has(task.id)),
      ...shared.map((task) => this.records.get(task.id) ?? task).filter((task) => matches(task, filter)),
    ];
    // Stable: equal instants keep the order above (unpublished tasks are the newest).
    merged.sort((a, b) => Date.parse(b.criadaEm) - Date.parse(a.criadaEm));
    return merged.slice(0, filter.limit);
  }

  /** Counts by status of this process's tasks. */
  counts(): Record<TaskStatus, number> {
    const counts: Record<TaskStatus, number> = { pendente: 0, executando: 0, concluida: 0, falhou: 0 };
    for (const task of this.records.values()) counts[task.status]++;
    return counts;
  }

  /** Forgets the oldest finished tasks beyond the history bound; pending and running ones always stay. */
  trim(): void {
    for (const [id, task] of this.records) {
      if (this.records.size <= this.deps.historyLimit) break;
      if (isFinished(task.status)) this.records.delete(id);
    }
  }

  /** Resolves once every change made so far is on the board (at once without one). */
  async flush(): Promise<void> {
    await this.publisher?.flush();
  }

  /** The last changes written to the board (see `TaskPublisher.close`). */
  async close(): Promise<void> {
    await this.publisher?.close();
  }
}
