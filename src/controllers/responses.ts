import type { Response } from 'express';
import type { z } from 'zod';
import type { TaskRecord } from '../infra/task-queue.js';
import { Problem } from '../schemas/common.js';
import type { ResponseSpec } from '../http/route.js';

/** Response specs shared by the route tables. */
export const json = (description: string, schema: z.ZodType, headers?: Record<string, string>): ResponseSpec => ({
  description,
  schema,
  ...(headers ? { headers } : {}),
});

export const problem = (description: string): ResponseSpec => ({ description, schema: Problem, contentType: 'application/problem+json' });

export const empty = (description: string): ResponseSpec => ({ description });

export const BAD_REQUEST = problem('Corpo ou parâmetros inválidos (JSON malformado ou fora do esquema)');
export const NOT_FOUND = problem('Id desconhecido');
export const TOO_LARGE = problem('Corpo acima de 100 kB');
export const UNSUPPORTED = problem('Content-Type diferente de application/json');
export const UNAVAILABLE = problem('Armazenamento indisponível (disco cheio, trava não obtida a tempo)');

/** The errors every JSON write can answer. */
export const WRITE_ERRORS = { 400: BAD_REQUEST, 413: TOO_LARGE, 415: UNSUPPORTED, 503: UNAVAILABLE };

/** 202 with the task and where to follow it; `respondAsync` when the client asked with `Prefer: respond-async`. */
export function sendAccepted(res: Response, task: TaskRecord, respondAsync = false): void {
  if (respondAsync) res.set('Preference-Applied', 'respond-async');
  res.status(202).location(`/sistema/tasks/${task.id}`).json(task);
}
