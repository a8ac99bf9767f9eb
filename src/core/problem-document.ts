/**
 * The one builder of RFC 9457 problem documents. Every answer that describes an error — the error middleware,
 * a refusal remembered under an Idempotency-Key, a failed task, the raw answer to a request Node's parser
 * refused, the page of a web app that was not built — is made here from an {@link AppError}, so the members,
 * their order and their words cannot drift apart. Errors storage raises are AppErrors too
 * (`StorageUnavailableError` → 503 `/problemas/armazenamento-indisponivel`, a constraint → its domain code).
 *
 * In `core/` rather than `http/`: a service (idempotency) and the task queue keep problem bodies as data.
 */
import { AppError, type FieldError } from './errors.js';

/** An RFC 9457 problem document, with the API's extension members (`errors`, and e.g. `consultas`). */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

/** The members a task record shows of the error it failed with (no request, so no `instance`). */
export interface ProblemSummary {
  type: string;
  title: string;
  status: number;
  detail: string;
}

/**
 * The document of `error`. Members in a fixed order (clients and tests compare bodies byte for byte): extension
 * members first, then `type`, `title`, `status`, `detail`, `instance` (when the answer belongs to a request
 * path) and `errors` (when fields are at fault).
 */
export function problemDocument(error: AppError, instance?: string): ProblemDocument {
  return {
    ...error.extras,
    type: error.type,
    title: error.title,
    status: error.status,
    detail: error.detail,
    ...(instance !== undefined ? { instance } : {}),
    ...(error.errors ? { errors: error.errors } : {}),
  };
}

/** Answered instead of anything that is not an AppError: its details stay in the log, never in the answer. */
export const internalError = (detail = 'Ocorreu um erro inesperado. Tente novamente.'): AppError => new AppError('ERRO_INTERNO', detail);

/** What a failed task shows: the AppError's summary, or a bare 500 that hides an unexpected error's details. */
export function problemSummary(error: unknown): ProblemSummary {
  const known = error instanceof AppError ? error : internalError('A tarefa falhou por um erro inesperado.');
  return { type: known.type, title: known.title, status: known.status, detail: known.detail };
}
