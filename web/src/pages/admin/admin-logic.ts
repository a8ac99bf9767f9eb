/**
 * The admin pages' own logic, kept free of the DOM so it is tested in `tests/web/admin.test.ts`: following a
 * task until it ends, the bounded live log, and the audit filters as a query.
 */
import type { z } from 'zod';
import type { Task as TaskSchema } from '../../../../src/schemas/task.schema.js';
import type { LOG_LEVELS } from '../../../../src/schemas/operations.schema.js';
import type { COLLECTIONS } from '../../../../src/repositories/collections.js';

export type Task = z.output<typeof TaskSchema>;

/** The roles the API lets into the admin pages: `usuarios`, `sistema`, `relatorios` and `auditoria` are admin's alone (`POLICY`). */
export const ADMIN_ROLES = ['admin'] as const;

/** A task is over once it has `concluida` or `falhou`: nothing about it changes after that. */
export function taskFinished(task: Pick<Task, 'status'>): boolean {
  return task.status === 'concluida' || task.status === 'falhou';
}

/**
 * The value a progress bar shows: the task's percentage once it reports one, or undefined (an indeterminate
 * bar) while it waits in the queue or has not said how far it is.
 */
export function progressValue(task: Pick<Task, 'status' | 'progresso'>): number | undefined {
  if (task.status === 'concluida') return 100;
  if (task.status === 'pendente' || task.progresso <= 0) return undefined;
  return Math.min(100, task.progresso);
}

/** pt-BR words for a task's state, as the progress line reads. */
export function taskStatusText(task: Pick<Task, 'status' | 'progresso'>): string {
  switch (task.status) {
    case 'pendente':
      return 'Na fila…';
    case 'executando':
      return task.progresso > 0 ? `Em andamento: ${task.progresso}%` : 'Em andamento…';
    case 'concluida':
      return 'Concluído.';
    case 'falhou':
      return 'Falhou.';
  }
}

export interface PollOptions {
  /** Reads the task again (`GET /sistema/tasks/{id}`). */
  fetchTask: (id: string) => Promise<Task>;
  /** Told of every state seen, the first one included. */
  onUpdate?: (task: Task) => void;
  intervalMs?: number;
  /** Stops waiting (the page was left); the promise then rejects with an AbortError. */
  signal?: AbortSignal;
  /** Injected by tests so they need not wait. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

function abortError(): DOMException {
  return new DOMException('A espera pela tarefa foi interrompida.', 'AbortError');
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Follows a task from the state the API answered (202) until it is over, and gives that last state. Polling
 * rather than a stream: tasks take seconds, and a poll every half second costs the server nothing.
 */
export async function pollTask(first: Task, options: PollOptions): Promise<Task> {
  const { fetchTask, onUpdate, intervalMs = 500, signal, sleep = defaultSleep } = options;
  let task = first;
  onUpdate?.(task);
  while (!taskFinished(task)) {
    await sleep(intervalMs, signal);
    if (signal?.aborted) throw abortError();
    task = await fetchTask(task.id);
    onUpdate?.(task);
  }
  return task;
}

/** A log entry as `/sistema/logs` and the `log` events of its stream carry it. */
export interface LogLine {
  hora: string;
  nivel: string;
  msg: string;
  [key: string]: unknown;
}

export type LogLevel = keyof typeof LOG_LEVELS;

/** The levels from least to most severe (the server's `LOG_LEVELS`, whose values cannot reach the bundle). */
export const LOG_LEVEL_ORDER: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

export const LOG_LEVEL_NAMES: Record<LogLevel, string> = {
  trace: 'Rastreamento',
  debug: 'Depuração',
  info: 'Informação',
  warn: 'Aviso',
  error: 'Erro',
  fatal: 'Fatal',
};

/** How many entries the Logs page keeps: a busy server logs every request, and the tab must not grow forever. */
export const LOG_BUFFER_MAX = 500;

/**
 * The new list after `arrived` (oldest first, as the API sends them): newest first, at most `max` entries.
 * Returns a new array so the page re-renders.
 */
export function pushLogs(current: readonly LogLine[], arrived: readonly LogLine[], max = LOG_BUFFER_MAX): LogLine[] {
  if (arrived.length === 0) return current.slice(0, max);
  const newestFirst = arrived.slice(-max).reverse();
  return [...newestFirst, ...current].slice(0, max);
}

/** True when `entry` is at least as severe as `min` (an unknown level is shown: better than hiding it). */
export function atLeast(entry: Pick<LogLine, 'nivel'>, min: LogLevel): boolean {
  const rank = LOG_LEVEL_ORDER.indexOf(entry.nivel as LogLevel);
  return rank === -1 || rank >= LOG_LEVEL_ORDER.indexOf(min);
}

/**
 * A log line's time as `30/11 22:20:47.191`: the API already gives it in the clinic's zone (with its offset),
 * so the digits are read as they are rather than moved to the browser's zone.
 */
export function logTime(hora: string): string {
  const m = /^\d{4}-(\d{2})-(\d{2})T(\d{2}:\d{2}:\d{2}(?:\.\d+)?)/.exec(hora);
  return m ? `${m[2]}/${m[1]} ${m[3]}` : hora;
}

/** The fields of a log line other than time, level and message, as `chave=valor` for the details column. */
export function logDetails(entry: LogLine): string {
  return Object.entries(entry)
    .filter(([key]) => key !== 'hora' && key !== 'nivel' && key !== 'msg')
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
}

/** The audit page's filters as typed: empty strings are "no filter"; dates are `AAAA-MM-DD` in the user's zone. */
export interface AuditFilters {
  usuarioId: string;
  pacienteId: string;
  acao: string;
  de: string;
  ate: string;
}

export const EMPTY_AUDIT_FILTERS: AuditFilters = { usuarioId: '', pacienteId: '', acao: '', de: '', ate: '' };

/** The instant a local wall-clock time names (the browser's zone): `2026-12-01`, `00:00:00.000`. */
function localInstant(day: string, time: string): string | undefined {
  const date = new Date(`${day}T${time}`);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/**
 * The query of `GET /sistema/auditoria` for these filters and page. `De` and `Até` are whole days: from the
 * first millisecond of `de` to the last of `ate`, so "até 01/12" includes what happened on 01/12.
 */
export function auditQuery(filters: AuditFilters, page: { limit: number; offset: number }): Record<string, string | number | undefined> {
  const text = (s: string) => s.trim() || undefined;
  return {
    usuarioId: text(filters.usuarioId),
    pacienteId: text(filters.pacienteId),
    acao: text(filters.acao),
    de: filters.de ? localInstant(filters.de, '00:00:00.000') : undefined,
    ate: filters.ate ? localInstant(filters.ate, '23:59:59.999') : undefined,
    limit: page.limit,
    offset: page.offset,
  };
}

/** "1–50 de 120" for a page of a list. */
export function pageLabel(page: { offset: number; count: number; total: number }): string {
  if (page.total === 0 || page.count === 0) return 'Nenhuma entrada';
  return `${page.offset + 1}–${page.offset + page.count} de ${page.total}`;
}

/** A file size as people read it, in pt-BR (`1,5 MB`). */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 10 ? 0 : 1;
  return `${value.toLocaleString('pt-BR', { maximumFractionDigits: digits, minimumFractionDigits: digits })} ${units[unit]}`;
}

/** An instant as a date and time in pt-BR (the API's instants carry their offset). */
export function formatInstant(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString('pt-BR', { dateStyle: 'short', timeStyle: 'medium' });
}

/** A collection of the data directory, as a restore's `contagens` names it. */
export type Colecao = (typeof COLLECTIONS)[keyof typeof COLLECTIONS];

/**
 * What a restore's counts are called on screen, in the order shown; `null` for the collections that are the
 * system's own bookkeeping (idempotency keys, sessions, audit entries on their way to the trail), which the
 * user neither manages nor needs to check. Typed by the server's list: a new collection stops the build until
 * it is named here.
 */
export const COLECAO_ROTULOS: Record<Colecao, string | null> = {
  medicos: 'Médicos',
  pacientes: 'Pacientes',
  consultas: 'Consultas',
  lista_espera: 'Lista de espera',
  bloqueios: 'Bloqueios de agenda',
  feriados: 'Feriados da clínica',
  usuarios: 'Usuários',
  sessoes: null,
  idempotencia: null,
  auditoria_pendente: null,
};

/**
 * The rows of `Registros restaurados`: the known collections in {@link COLECAO_ROTULOS}'s order with their
 * pt-BR names, internal ones left out; a name this build does not know (a newer server) is shown as it is,
 * last, rather than hidden.
 */
export function restoredRows(contagens: Readonly<Record<string, number>>): { colecao: string; rotulo: string; registros: number }[] {
  const known = Object.entries(COLECAO_ROTULOS) as [string, string | null][];
  const rows = known.flatMap(([colecao, rotulo]) => (rotulo !== null && colecao in contagens ? [{ colecao, rotulo, registros: contagens[colecao]! }] : []));
  const unknown = Object.keys(contagens).filter((c) => !(c in COLECAO_ROTULOS));
  return [...rows, ...unknown.map((colecao) => ({ colecao, rotulo: colecao, registros: contagens[colecao]! }))];
}
