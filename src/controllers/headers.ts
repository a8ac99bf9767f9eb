import { z } from '../schemas/common.js';

/**
 * Request headers that operations honour, declared in their route specs so the OpenAPI document lists them as
 * header parameters (Swagger UI then offers a field for each). Handlers read and check the headers themselves.
 * No `example`: Swagger UI would pre-fill and send it, so every "Try it out" of a booking would reuse one
 * Idempotency-Key (422 with another body) and answer 202 instead of 201.
 */

/** An Idempotency-Key: 1 to 255 visible ASCII characters (a UUID is a good choice). */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

const IdempotencyKey = z
  .string()
  .regex(IDEMPOTENCY_KEY)
  .optional()
  .meta({
    description:
      'Chave escolhida pelo cliente (1 a 255 caracteres ASCII visíveis; um UUID serve). Uma repetição com a mesma chave e o mesmo ' +
      'corpo devolve a primeira resposta e não agenda de novo; a mesma chave com outro corpo → 422 `/problemas/idempotencia-conflito`. ' +
      'Lembrada por 48 h, mesmo após reinício. Ex.: `5d6f8a2e-3b1c-4e7a-9f20-8c4b1a7d6e35`.',
  });

const Prefer = z
  .string()
  .max(200)
  .optional()
  .meta({
    description: 'Preferências da RFC 7240. Com `respond-async`, responde 202 com a tarefa (e `Preference-Applied`) em vez de esperá-la.',
  });

const LastEventId = z
  .string()
  .max(32)
  .optional()
  .meta({
    description:
      'O `id` do último evento recebido (o `EventSource` do navegador o envia sozinho ao reconectar): reenvia os eventos seguintes, ' +
      'ou `event: resync` se já saíram do buffer.',
  });

/** `POST /consultas/agendar`: idempotent retries and the asynchronous answer. */
export const BookingHeaders = z.object({ 'Idempotency-Key': IdempotencyKey, Prefer });

/** Operations that go through the queue and may answer at once with the task. */
export const PreferHeaders = z.object({ Prefer });

/** Event streams: where a reconnecting client resumes. */
export const StreamHeaders = z.object({ 'Last-Event-ID': LastEventId });
