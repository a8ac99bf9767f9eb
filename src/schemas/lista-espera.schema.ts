import { DateOnly, ESPECIALIDADE_MAX, Instant, OBSERVACOES_MAX, Pagination, RefId, SearchText, listOf, texto, z } from './common.js';
import { InstantInput } from './consulta.schema.js';
import { EXEMPLO_HORARIO_LIVRE, EXEMPLO_LISTA_ESPERA, EXEMPLO_LISTA_ESPERA_INPUT } from './examples.js';

/** `de`/`ate` of a waiting-list entry: a whole day in the clinic's zone, or an exact instant. */
const Limite = z
  .union([DateOnly, InstantInput])
  .meta({ description: 'Data (AAAA-MM-DD: o dia inteiro no fuso da clínica) ou instante ISO 8601 com fuso' });

/**
 * What a client sends to put a paciente on the waiting list: for a médico, or for any médico of an
 * especialidade (at least one of the two), between `de` and `ate`.
 */
export const ListaEsperaInput = z
  .object({
    pacienteId: RefId.min(1),
    medicoId: RefId.min(1).nullish(),
    especialidade: texto({ min: 2, max: ESPECIALIDADE_MAX }).nullish(),
    de: Limite,
    ate: Limite,
    observacoes: texto({ max: OBSERVACOES_MAX, multilinha: true }).nullish(),
  })
  .superRefine((input, ctx) => {
    if (!input.medicoId && !input.especialidade) {
      ctx.addIssue({ code: 'custom', path: ['medicoId'], message: 'Informe medicoId, especialidade ou os dois.' });
    }
  })
  .meta({ id: 'ListaEsperaInput', example: EXEMPLO_LISTA_ESPERA_INPUT });
export type ListaEsperaInput = z.output<typeof ListaEsperaInput>;

/** A waiting-list entry as stored (and as backups must hold it). */
export const ListaEsperaRecordSchema = z.object({
  id: z.uuid(),
  pacienteId: z.string(),
  medicoId: z.string().nullable(),
  especialidade: z.string().nullable(),
  de: z.string(),
  ate: z.string(),
  observacoes: z.string().nullable(),
  criadaEm: z.string(),
});
export type ListaEsperaRecord = z.output<typeof ListaEsperaRecordSchema>;

/** A waiting-list entry as the API shows it: the record and whether it is still waiting. */
export const ListaEspera = z
  .object({
    id: z.uuid(),
    pacienteId: z.string(),
    medicoId: z.string().nullable(),
    especialidade: z.string().nullable(),
    de: z.string().meta({ description: 'Como informado: data (AAAA-MM-DD) ou instante' }),
    ate: z.string().meta({ description: 'Como informado: data (AAAA-MM-DD, inclusive) ou instante' }),
    observacoes: z.string().nullable(),
    criadaEm: Instant,
    ativa: z.boolean().meta({
      description: 'A janela ainda não terminou e o paciente ainda não foi agendado nela (com o médico, ou com um médico da especialidade)',
    }),
  })
  .meta({ id: 'ListaEspera', example: EXEMPLO_LISTA_ESPERA });
export type ListaEspera = z.output<typeof ListaEspera>;

export const ListaEsperaList = listOf(ListaEspera, 'ListaEsperaList');

export const ListListaEsperaQuery = z.object({
  medicoId: RefId.optional().meta({ description: 'Entradas para este médico' }),
  especialidade: SearchText.optional().meta({
    description: 'Entradas desta especialidade, ou para um médico dela (sem diferenciar maiúsculas e acentos)',
  }),
  ativa: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
  ...Pagination,
});
export type ListListaEsperaQuery = z.output<typeof ListListaEsperaQuery>;

/** Most slots `GET /horarios-livres` answers with. */
export const HORARIOS_LIVRES_MAX = 100;

export const HorariosLivresQuery = z.object({
  especialidade: SearchText.optional().meta({ description: 'Só médicos desta especialidade (sem diferenciar maiúsculas e acentos)' }),
  medicoId: RefId.optional(),
  de: Limite.optional().meta({ description: 'A partir de quando (data ou instante; padrão: agora)' }),
  limit: z.coerce.number().int().min(1).max(HORARIOS_LIVRES_MAX).default(10).meta({ description: `Máximo de horários (1–${HORARIOS_LIVRES_MAX})` }),
});
export type HorariosLivresQuery = z.output<typeof HorariosLivresQuery>;

export const HorarioLivre = z
  .object({ medicoId: z.string(), inicio: Instant, fim: Instant })
  .meta({ id: 'HorarioLivre', example: EXEMPLO_HORARIO_LIVRE });
export type HorarioLivre = z.output<typeof HorarioLivre>;

export const HorariosLivres = z.object({ items: z.array(HorarioLivre) }).meta({ id: 'HorariosLivres', example: { items: [EXEMPLO_HORARIO_LIVRE] } });
