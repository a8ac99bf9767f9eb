import { AppError } from '../core/errors.js';
import { problemSummary } from '../core/problem-document.js';
import type { TaskFilter, TaskRecord } from './task-record.js';

/**
 * Where task records live for every process of a storage (PostgreSQL: `storage/postgres/task-board.ts`). The
 * queue keeps running its tasks in process memory; the board holds copies of their records, written behind
 * (see `TaskPublisher`), so that any process answers `GET /sistema/tasks/{id}` for a task another one runs, and
 * decides which process makes a coalesced task (`claim`). The JSON driver has no board: records and coalescing
 * stay per process.
 *
 * Each board belongs to one process (its `owner`), which proves it is alive every few seconds. A record whose
 * owner has not been seen for a while and that did not finish reads as `falhou` ({@link ABANDONED}), and no
 * longer holds its key.
 */
export interface TaskBoard {
  /** This process, as the board names the owner of the records it publishes. */
  readonly owner: string;
  /** Announces this process alive, and keeps doing so until `close`. */
  open(): Promise<void>;
  /**
   * Writes `task` (a new, waiting record of this process) as the holder of `key` among the waiting tasks of its
   * type, and of `once` for ever (when given), unless another waiting task holds that key or any task that mark.
   * Returns undefined when written, or the id of the task that holds them.
   */
  claim(task: TaskRecord, key: string, once: string | undefined): Promise<string | undefined>;
  /** Writes the current state of records of this process, all in one statement. */
  publish(tasks: readonly TaskRecord[]): Promise<void>;
  get(id: string): Promise<TaskRecord | undefined>;
  /** Most recent first, every process's. */
  list(filter: TaskFilter): Promise<TaskRecord[]>;
  /** Stops the liveness beat and says this process is gone: what it leaves unfinished reads as abandoned. */
  close(): Promise<void>;
}

/** How long an owner may go unseen before its unfinished tasks read as abandoned. */
export const OWNER_STALE_MS = 30_000;
/** How often an owner says it is alive (well inside {@link OWNER_STALE_MS}). */
export const OWNER_BEAT_MS = 5_000;

/** The record of a task whose process ended before finishing it, as every process reads it. */
export function abandoned(task: TaskRecord): TaskRecord {
  const error = new AppError('PROCESSO_ENCERRADO', 'O processo que executava a tarefa foi encerrado.');
  return { ...task, status: 'falhou', erro: problemSummary(error) };
}
