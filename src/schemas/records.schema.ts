import { EpochMs, z } from './common.js';

/**
 * A remembered Idempotency-Key response, as stored in `idempotencia.json`. Its status is replayed as it is: only a
 * final one (200–599) is a response to replay; a restored 101 would switch protocols on the client's connection.
 */
export const IdempotencyRecordSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{64}$/),
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  status: z.number().int().min(200).max(599),
  body: z.unknown(),
  location: z.string().nullable(),
  criadoEm: EpochMs,
});
