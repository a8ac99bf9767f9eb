import { DateOnly, Instant, NOME_MAX, texto, z } from './common.js';
import { EXEMPLO_FERIADO, EXEMPLO_FERIADO_CLINICA, EXEMPLO_FERIADO_INPUT, EXEMPLO_FERIADO_NACIONAL } from './examples.js';

export const FeriadoInput = z
  .object({ data: DateOnly, nome: texto({ min: 2, max: NOME_MAX }) })
  .meta({ id: 'FeriadoInput', example: EXEMPLO_FERIADO_INPUT });
export type FeriadoInput = z.output<typeof FeriadoInput>;

/** A clinic holiday as stored. */
export const FeriadoRecord = z
  .object({ id: z.uuid(), data: z.string(), nome: z.string().trim().min(1, 'Nome obrigatório.'), criadoEm: Instant })
  .meta({ id: 'FeriadoClinica', example: EXEMPLO_FERIADO_CLINICA });
export type FeriadoRecord = z.output<typeof FeriadoRecord>;

export const FERIADO_TIPOS = ['nacional', 'estadual', 'clinica'] as const;

/** A holiday as listed: national and state ones are computed (no `id`); the clinic's own can be deleted. */
export const Feriado = z
  .object({
    id: z.string().nullable(),
    data: z.string().meta({ format: 'date' }),
    nome: z.string(),
    tipo: z.enum(FERIADO_TIPOS),
    pontoFacultativo: z.boolean().meta({ description: 'Ponto facultativo (Carnaval, Corpus Christi): não bloqueia horários' }),
  })
  .meta({ id: 'Feriado', example: EXEMPLO_FERIADO });
export type Feriado = z.output<typeof Feriado>;

export const FeriadoList = z
  .object({ items: z.array(Feriado) })
  .meta({ id: 'FeriadoList', example: { items: [EXEMPLO_FERIADO_NACIONAL, EXEMPLO_FERIADO] } });

export const FeriadosQuery = z.object({
  ano: z.coerce.number().int().min(1900).max(2999).meta({ description: 'Ano (AAAA)' }),
});
export type FeriadosQuery = z.output<typeof FeriadosQuery>;
