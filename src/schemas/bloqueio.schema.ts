import { InstantInput } from './consulta.schema.js';
import { Instant, MOTIVO_MAX, texto, z } from './common.js';
import { EXEMPLO_BLOQUEIO, EXEMPLO_BLOQUEIO_INPUT } from './examples.js';

/** A médico's time off: `inicio` < `fim`, instants with an offset. */
export const BloqueioInput = z
  .object({
    inicio: InstantInput,
    fim: InstantInput,
    motivo: texto({ min: 1, max: MOTIVO_MAX }),
  })
  .refine((b) => Date.parse(b.inicio) < Date.parse(b.fim), { message: 'O início deve ser antes do fim.', path: ['fim'] })
  .meta({ id: 'BloqueioInput', example: EXEMPLO_BLOQUEIO_INPUT });
export type BloqueioInput = z.output<typeof BloqueioInput>;

export const Bloqueio = z
  .object({ id: z.uuid(), medicoId: z.uuid(), inicio: Instant, fim: Instant, motivo: z.string(), criadoEm: Instant })
  // As the API takes it (a restore checks it too): PostgreSQL's CHECK refuses the other order.
  .refine((b) => Date.parse(b.inicio) < Date.parse(b.fim), { message: 'O início deve ser antes do fim.', path: ['fim'] })
  .meta({ id: 'Bloqueio', example: EXEMPLO_BLOQUEIO });
export type Bloqueio = z.output<typeof Bloqueio>;

export const BloqueioList = z.object({ items: z.array(Bloqueio) }).meta({ id: 'BloqueioList', example: { items: [EXEMPLO_BLOQUEIO] } });
