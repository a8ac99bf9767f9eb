import { ANO_FORA_MESSAGE, DateOnly, Instant, MOTIVO_MAX, OBSERVACOES_MAX, Pagination, RefId, listOf, texto, yearInRange, z } from './common.js';
import { DURACAO_CONSULTA_MAX_MIN } from './medico.schema.js';
import { EXEMPLO_AGENDAR, EXEMPLO_ATUALIZAR_STATUS, EXEMPLO_CANCELAR, EXEMPLO_CONSULTA, EXEMPLO_REMARCAR } from './examples.js';

/** v1's four, then the front desk's (v2): confirmed, checked in (waiting room), being seen. */
export const STATUS_CONSULTA = ['agendada', 'cancelada', 'realizada', 'faltou', 'confirmada', 'aguardando', 'em_atendimento'] as const;
export type StatusConsulta = (typeof STATUS_CONSULTA)[number];

/** An instant with an offset or `Z` (`2026-12-01T09:00:00-03:00`, `2026-12-01T12:00:00Z`). */
/** Encaixe length in minutes: bounds and default (one home for schema and service). */
export const ENCAIXE_DURACAO_MIN = 5;
export const ENCAIXE_DURACAO_MAX = 60;
export const ENCAIXE_DURACAO_PADRAO_MIN = 15;
/** The longest any consulta lasts: a médico's longest `duracaoConsultaMin`, or the longest encaixe. */
export const CONSULTA_DURACAO_MAX_MIN = Math.max(DURACAO_CONSULTA_MAX_MIN, ENCAIXE_DURACAO_MAX);

export const InstantInput = z.iso
  .datetime({ offset: true, message: 'Use um instante ISO 8601 com fuso (ex.: 2026-12-01T09:00:00-03:00).' })
  .refine(yearInRange, ANO_FORA_MESSAGE)
  // Instants are kept to the millisecond: a finer part that is not zero would be cut off silently, and a slot
  // start "plus a nanosecond" booked as the slot itself.
  .refine((s) => !/\.\d{3}\d*[1-9]/.test(s), 'Use no máximo milissegundos (frações menores que 1 ms não são aceitas).')
  .meta({ format: 'date-time' });

/** Free notes, typed in a textarea: line breaks allowed. */
const Observacoes = texto({ max: OBSERVACOES_MAX, multilinha: true });

export const AgendarInput = z
  .object({
    medicoId: RefId.min(1),
    pacienteId: RefId.min(1),
    inicio: InstantInput,
    observacoes: Observacoes.nullish(),
    encaixe: z.boolean().optional().meta({
      description: 'Encaixe: começa em qualquer minuto dentro do horário de atendimento, mesmo sobre um horário ocupado (até maxEncaixesDia do médico por dia)',
    }),
    duracaoMin: z
      .number()
      .int()
      .min(ENCAIXE_DURACAO_MIN)
      .max(ENCAIXE_DURACAO_MAX)
      .optional()
      .meta({ description: `Duração do encaixe em minutos (padrão ${ENCAIXE_DURACAO_PADRAO_MIN}); só com encaixe` }),
  })
  .refine((b) => b.duracaoMin === undefined || b.encaixe === true, { path: ['duracaoMin'], message: 'duracaoMin só vale para encaixe (encaixe: true).' })
  .meta({ id: 'AgendarInput', example: EXEMPLO_AGENDAR });
export type AgendarInput = z.output<typeof AgendarInput>;

export const CancelarInput = z
  .object({ motivo: texto({ max: MOTIVO_MAX, multilinha: true }).nullish() })
  .meta({ id: 'CancelarInput', example: EXEMPLO_CANCELAR });
export type CancelarInput = z.output<typeof CancelarInput>;

export const RemarcarInput = z.object({ inicio: InstantInput }).meta({ id: 'RemarcarInput', example: EXEMPLO_REMARCAR });
export type RemarcarInput = z.output<typeof RemarcarInput>;

export const AtualizarStatusInput = z
  .object({
    status: z.enum(['confirmada', 'em_atendimento', 'realizada', 'faltou']),
    observacoes: Observacoes.nullish(),
  })
  .meta({ id: 'AtualizarStatusInput', example: EXEMPLO_ATUALIZAR_STATUS });
export type AtualizarStatusInput = z.output<typeof AtualizarStatusInput>;

export const Consulta = z
  .object({
    id: z.uuid(),
    // Ids the API made (randomUUID): PostgreSQL's exclusion constraints compare them as uuid.
    medicoId: z.uuid(),
    pacienteId: z.uuid(),
    inicio: Instant,
    fim: Instant,
    status: z.enum(STATUS_CONSULTA),
    observacoes: z.string().nullable(),
    motivoCancelamento: z.string().nullable(),
    // Defaults: records written before v2 lack these (backups of then still validate and restore).
    chegouEm: Instant.nullable().default(null).meta({ description: 'Quando o paciente fez o check-in' }),
    encaixe: z.boolean().default(false),
    criadaEm: Instant,
    atualizadaEm: Instant,
  })
  // What the API can make, checked for stored records too (a restore): every overlap query looks back that far.
  .refine(
    (c) => {
      const ms = Date.parse(c.fim) - Date.parse(c.inicio);
      return ms > 0 && ms <= CONSULTA_DURACAO_MAX_MIN * 60_000;
    },
    { message: `a consulta deve terminar depois de começar e durar no máximo ${CONSULTA_DURACAO_MAX_MIN} minutos`, path: ['fim'] },
  )
  .meta({ id: 'Consulta', example: EXEMPLO_CONSULTA });
export type Consulta = z.output<typeof Consulta>;

/** `de`/`ate` take a date (the whole day in the clinic's zone) or an instant. */
const DateOrInstant = z.union([DateOnly, InstantInput]).meta({ description: 'Data (AAAA-MM-DD, dia inteiro no fuso da clínica) ou instante ISO 8601' });

export const ListConsultasQuery = z.object({
  medicoId: RefId.optional(),
  pacienteId: RefId.optional(),
  status: z.enum(STATUS_CONSULTA).optional(),
  de: DateOrInstant.optional(),
  ate: DateOrInstant.optional(),
  ...Pagination,
});
export type ListConsultasQuery = z.output<typeof ListConsultasQuery>;

export const ConsultaList = listOf(Consulta, 'ConsultaList');

export const SLOT_ESTADOS = ['disponivel', 'reservado', 'ocupado'] as const;
export type SlotEstado = (typeof SLOT_ESTADOS)[number];

// The agenda's own schemas (its states, bloqueado and passado included) live in agenda.schema.ts.
export { Agenda, AgendaQuery, Slot } from './agenda.schema.js';
