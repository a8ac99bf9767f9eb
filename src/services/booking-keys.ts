import { createHash } from 'node:crypto';
import type { AppError } from '../core/errors.js';
import { problemDocument } from '../core/problem-document.js';
import type { IdempotencyRecord } from '../repositories/port.js';
import { ENCAIXE_DURACAO_PADRAO_MIN, type AgendarInput } from '../schemas/consulta.schema.js';

/** A response to send as it is: a fresh booking, or one remembered under an Idempotency-Key. */
export interface BookingResponse {
  status: number;
  body: unknown;
  location: string | null;
}

/** An Idempotency-Key as remembered: the SHA-256 of (user, key), and the fingerprint of the body it came with. */
export interface IdempotencyKey {
  hash: string;
  fingerprint: string;
}

/** The key itself is never stored: its SHA-256 is. The fingerprint covers the normalised body. */
export function keyOf(key: string, input: AgendarInput, inicioMs: number, usuarioId: string | undefined): IdempotencyKey {
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');
  const fields: unknown[] = [input.medicoId, input.pacienteId, inicioMs, input.observacoes ?? null];
  // Only an encaixe adds its fields, so regular bookings keep the fingerprints keys were stored with before v2.
  if (input.encaixe) fields.push('encaixe', input.duracaoMin ?? ENCAIXE_DURACAO_PADRAO_MIN);
  // Keys are per user: another user's identical key must never replay (and reveal) someone else's answer.
  return { hash: sha(`agendar\n${usuarioId ?? ''}\n${key}`), fingerprint: sha(JSON.stringify(fields)) };
}

/** A remembered answer, ready to send again. */
export function toResponse(record: IdempotencyRecord): BookingResponse {
  return { status: record.status, body: record.body, location: record.location };
}

/** A refusal as remembered: the document the error middleware would have answered (the same builder). */
export function problemResponse(error: AppError): BookingResponse {
  return { status: error.status, body: problemDocument(error, '/consultas/agendar'), location: null };
}
