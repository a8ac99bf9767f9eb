import { DateOnly, Instant, MOTIVO_MAX, OBSERVACOES_MAX, Pagination, listOf, texto, z } from './common.js';

export const STATUS_CONSULTA = ['agendada', 'cancelada', 'realizada', 'faltou'] as const;
export type StatusConsulta = (typeof STATUS_CONSULTA)[number];

/** An instant with an offset or `Z` (`2026-12-01T09:00:00-03:00`, `2026-12-01T12:00:00Z`). */
export const InstantInput = z.iso
  .datetime({ offset: true, message: 'Use um instante ISO 8601 com fuso (ex.: 2026-12-01T09:00:00-03:00).' })
  .meta({ example: '2026-12-01T09:00:00-03:00' });

/** Free notes, typed in a textarea: line breaks allowed. */
const Observacoes = texto({ max: OBSERVACOES_MAX, multilinha: true });

export const AgendarInput = z
  .object({
    medicoId: z.string().min(1).max(100),
    pacienteId: z.string().min(1).max(100),
    inicio: InstantInput,
    observacoes: Observacoes.nullish(),
  })
  .meta({ id: 'AgendarInput' });
export type AgendarInput = z.output<typeof AgendarInput>;

export const CancelarInput = z
  .object({ motivo: texto({ max: MOTIVO_MAX, multilinha: true }).nullish() })
  .meta({ id: 'CancelarInput' });
export type CancelarInput = z.output<typeof CancelarInput>;

export const RemarcarInput = z.object({ inicio: InstantInput }).meta({ id: 'RemarcarInput' });
export type RemarcarInput = z.output<typeof RemarcarInput>;

export const AtualizarStatusInput = z
  .object({
    status: z.enum(['realizada', 'faltou']),
    observacoes: Observacoes.nullish(),
  })
  .meta({ id: 'AtualizarStatusInput' });
export type AtualizarStatusInput = z.output<typeof AtualizarStatusInput>;

export const Consulta = z
  .object({
    id: z.uuid(),
    medicoId: z.string(),
    pacienteId: z.string(),
    inicio: Instant,
    fim: Instant,
    status: z.enum(STATUS_CONSULTA),
    observacoes: z.string().nullable(),
    motivoCancelamento: z.string().nullable(),
    criadaEm: Instant,
    atualizadaEm: Instant,
  })
  .meta({ id: 'Consulta' });
export type Consulta = z.output<typeof Consulta>;

/** `de`/`ate` take a date (the whole day in the clinic's zone) or an instant. */
const DateOrInstant = z.union([DateOnly, InstantInput]).meta({ description: 'Data (AAAA-MM-DD, dia inteiro no fuso da clínica) ou instante ISO 8601' });

export const ListConsultasQuery = z.object({
  medicoId: z.string().max(100).optional(),
  pacienteId: z.string().max(100).optional(),
  status: z.enum(STATUS_CONSULTA).optional(),
  de: DateOrInstant.optional(),
  ate: DateOrInstant.optional(),
  ...Pagination,
});
export type ListConsultasQuery = z.output<typeof ListConsultasQuery>;

export const ConsultaList = listOf(Consulta, 'ConsultaList');

export const SLOT_ESTADOS = ['disponivel', 'reservado', 'ocupado'] as const;
export type SlotEstado = (typeof SLOT_ESTADOS)[number];

export const Slot = z
  .object({
    inicio: Instant,
    fim: Instant,
    estado: z.enum(SLOT_ESTADOS),
    consultaId: z.string().nullable(),
  })
  .meta({ id: 'Slot' });

export const Agenda = z
  .object({ medicoId: z.string(), timezone: z.string(), slots: z.array(Slot) })
  .meta({ id: 'Agenda' });

export const AgendaQuery = z
  .object({
    data: DateOnly.optional().meta({ description: 'Um dia (AAAA-MM-DD)' }),
    de: DateOnly.optional().meta({ description: 'Primeiro dia do intervalo' }),
    ate: DateOnly.optional().meta({ description: 'Último dia do intervalo (no máximo 31 dias)' }),
  })
  .superRefine((q, ctx) => {
    if (q.data && (q.de || q.ate)) ctx.addIssue({ code: 'custom', path: ['data'], message: 'Use data ou de/ate, não os dois.' });
    if (!q.data && !(q.de && q.ate)) ctx.addIssue({ code: 'custom', path: ['data'], message: 'Informe data ou de e ate.' });
    if (q.de && q.ate) {
      const days = (Date.parse(`${q.ate}T00:00:00Z`) - Date.parse(`${q.de}T00:00:00Z`)) / 86_400_000 + 1;
      if (days < 1) ctx.addIssue({ code: 'custom', path: ['ate'], message: 'ate deve ser igual ou posterior a de.' });
      if (days > 31) ctx.addIssue({ code: 'custom', path: ['ate'], message: 'O intervalo pode ter no máximo 31 dias.' });
    }
  });
export type AgendaQuery = z.output<typeof AgendaQuery>;
