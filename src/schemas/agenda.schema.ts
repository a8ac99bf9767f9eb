import { DateOnly, Instant, z } from './common.js';
import { EXEMPLO_AGENDA, EXEMPLO_DIA, EXEMPLO_ENCAIXE, EXEMPLO_SLOT } from './examples.js';

/**
 * The states a slot of the agenda can show. `disponivel`, `reservado` and `ocupado` are also what the agenda
 * stream's events carry; `bloqueado` (a bloqueio, a holiday, an inactive médico) and `passado` (its start is
 * before now) are read, not transitions, so they are only shown. Only `disponivel` can be booked.
 */
export const AGENDA_ESTADOS = ['disponivel', 'reservado', 'ocupado', 'bloqueado', 'passado'] as const;
export type AgendaEstado = (typeof AGENDA_ESTADOS)[number];

export const Slot = z
  .object({
    inicio: Instant,
    fim: Instant,
    estado: z.enum(AGENDA_ESTADOS),
    consultaId: z.string().nullable(),
    motivo: z.string().optional().meta({ description: 'Por que o horário está `bloqueado` (motivo do bloqueio, nome do feriado, médico inativo)' }),
  })
  .meta({ id: 'Slot', example: EXEMPLO_SLOT });

export const EncaixeItem = z
  .object({ inicio: Instant, fim: Instant, consultaId: z.string() })
  .meta({ id: 'EncaixeAgenda', example: EXEMPLO_ENCAIXE });

export const Agenda = z
  .object({ medicoId: z.string(), timezone: z.string(), slots: z.array(Slot), encaixes: z.array(EncaixeItem) })
  .meta({ id: 'Agenda', example: EXEMPLO_AGENDA });

export const AgendaQuery = z
  .object({
    data: DateOnly.optional().meta({ description: 'Um dia (AAAA-MM-DD)', example: EXEMPLO_DIA }),
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
