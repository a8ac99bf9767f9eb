/**
 * Problems (RFC 9457) as the API answers them, and how the app maps them onto form fields. Pure: tested in
 * `tests/web/problem.test.ts`.
 */
import type { FieldError } from '../../src/core/errors.js';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors: FieldError[];
}

/** An API answer that was not 2xx: carries the problem document (or one made up for a network failure). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(readonly problem: Problem) {
    super(problem.detail);
  }
}

/** Reads whatever a failed answer had into a {@link Problem}; never throws. */
export function toProblem(status: number, body: unknown): Problem {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const errors = Array.isArray(b['errors'])
    ? b['errors'].filter((e): e is FieldError => typeof e?.path === 'string' && typeof e?.message === 'string')
    : [];
  const title = typeof b['title'] === 'string' ? b['title'] : 'Erro';
  return {
    type: typeof b['type'] === 'string' ? b['type'] : 'about:blank',
    title,
    status: typeof b['status'] === 'number' ? b['status'] : status,
    detail: typeof b['detail'] === 'string' ? b['detail'] : status === 0 ? 'Sem conexão com o servidor. Tente de novo.' : `${title} (HTTP ${status}).`,
    errors,
  };
}

/** The problem of any thrown value: API errors keep theirs, anything else becomes a generic one. */
export function problemOf(error: unknown): Problem {
  if (error instanceof ApiError) return error.problem;
  return toProblem(0, { detail: error instanceof Error ? `Erro inesperado: ${error.message}` : 'Erro inesperado.' });
}

/**
 * The field a problem's `errors[].path` names, as the form calls it: the API prefixes where it looked
 * (`body.cpf`, `query.data`), forms name fields by their last segments (`cpf`, `paciente.cpf`).
 */
export function fieldName(path: string): string {
  return path.replace(/^(body|query|params|headers)(\.|$)/, '');
}

/**
 * Messages per form field for the fields the form has (`fields`); a field named by several errors shows them
 * joined. Paths that name no field of the form are left for the general message.
 */
export function fieldErrors(problem: Problem | null | undefined, fields: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!problem) return out;
  for (const error of problem.errors) {
    const name = fieldName(error.path);
    const field = fields.find((f) => f === name || name.endsWith(`.${f}`));
    if (field === undefined) continue;
    out[field] = out[field] ? `${out[field]} ${error.message}` : error.message;
  }
  return out;
}

/** The errors no field of the form shows: listed under the `detail` so nothing the API said is lost. */
export function unplacedErrors(problem: Problem, fields: readonly string[]): FieldError[] {
  const placed = fieldErrors(problem, fields);
  return problem.errors.filter((e) => {
    const name = fieldName(e.path);
    return !Object.keys(placed).some((f) => f === name || name.endsWith(`.${f}`));
  });
}
