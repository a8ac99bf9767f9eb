import type { ProblemSummary } from '../core/problem-document.js';
import { TASK_STATUS, TASK_TIPOS, type TaskStatus, type TaskTipo } from '../schemas/task.schema.js';

export { TASK_STATUS, TASK_TIPOS, type TaskStatus, type TaskTipo };

/** What a task failed with, as a problem summary the API can show (built by `problemSummary`). */
export type TaskError = ProblemSummary;

/** The public record of a task: what `/sistema/tasks` shows, kept by the queue and copied to the task board. */
export interface TaskRecord {
  id: string;
  tipo: TaskTipo;
  /** The médico a booking task is about (agendar, remarcar): a médico user sees only the tasks of their own. */
  medicoId?: string;
  status: TaskStatus;
  progresso: number;
  criadaEm: string;
  iniciadaEm?: string;
  concluidaEm?: string;
  resultado?: unknown;
  erro?: TaskError;
}

/** Which tasks a listing asks for, newest first. */
export interface TaskFilter {
  tipo?: TaskTipo | undefined;
  status?: TaskStatus | undefined;
  limit: number;
}

export const isFinished = (status: TaskStatus): boolean => status === 'concluida' || status === 'falhou';

export const matches = (task: TaskRecord, filter: TaskFilter): boolean =>
  (!filter.tipo || task.tipo === filter.tipo) && (!filter.status || task.status === filter.status);
