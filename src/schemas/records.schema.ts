import { z } from './common.js';

/** A remembered Idempotency-Key response, as stored in `idempotencia.json`. */
export const IdempotencyRecordSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{64}$/),
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  status: z.number().int().min(100).max(599),
  body: z.unknown(),
  location: z.string().nullable(),
  criadoEm: z.number().int(),
});
