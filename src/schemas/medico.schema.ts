import { ESPECIALIDADE_MAX, Email, Instant, Nome, Pagination, SearchText, Telefone, TimeOfDay, listOf, texto, z } from './common.js';
import { EXEMPLO_MEDICO, EXEMPLO_MEDICO_INPUT } from './examples.js';

export const UFS = [
  'AC', 'AL', 'AP', 'AM', 'BA', 'CE', 'DF', 'ES', 'GO', 'MA', 'MT', 'MS', 'MG', 'PA',
  'PB', 'PR', 'PE', 'PI', 'RJ', 'RN', 'RS', 'RO', 'RR', 'SC', 'SP', 'SE', 'TO',
] as const;

/** `123456/SP`: 4–7 digits, a slash and a valid UF. Lower-case UFs are accepted and upper-cased. */
export const Crm = z
  .string()
  .trim()
  .toUpperCase()
  .regex(/^\d{4,7}\/[A-Z]{2}$/, 'CRM deve ter de 4 a 7 dígitos, "/" e a UF (ex.: 123456/SP).')
  .refine((crm) => (UFS as readonly string[]).includes(crm.slice(-2)), 'UF do CRM inválida.')
  .meta({ example: '123456/SP' });

const minutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** An interval's end: a time of day, or `24:00` for one that runs to midnight. */
const EndOfInterval = z
  .string()
  .regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, 'Use o formato HH:MM (00:00 a 24:00).')
  .meta({ example: '18:00' });

export const Horario = z
  .object({
    diaSemana: z.number().int().min(0).max(6).meta({ description: '0 = domingo … 6 = sábado' }),
    inicio: TimeOfDay,
    fim: EndOfInterval,
  })
  .refine((h) => minutes(h.inicio) < minutes(h.fim), { message: 'O início deve ser antes do fim.', path: ['fim'] })
  .meta({ id: 'Horario', example: EXEMPLO_MEDICO_INPUT.horarios[0] });

/** The most working intervals a médico may have. */
export const HORARIOS_MAX = 50;

/** Working intervals: each valid, and none overlapping another of the same weekday. */
export const Horarios = z
  .array(Horario)
  .max(HORARIOS_MAX)
  .superRefine((horarios, ctx) => {
    horarios.forEach((a, i) => {
      horarios.forEach((b, j) => {
        if (j <= i || a.diaSemana !== b.diaSemana) return;
        if (minutes(a.inicio) < minutes(b.fim) && minutes(b.inicio) < minutes(a.fim)) {
          ctx.addIssue({ code: 'custom', path: [j], message: `Horário sobreposto a outro do mesmo dia (item ${i}).` });
        }
      });
    });
  });

/** The longest a médico's consultas may last, in minutes. */
export const DURACAO_CONSULTA_MAX_MIN = 240;

/** What a client sends to create (POST) or replace (PUT) a médico. Unknown fields are ignored. */
export const MedicoInput = z
  .object({
    nome: Nome,
    crm: Crm,
    especialidade: texto({ min: 2, max: ESPECIALIDADE_MAX }),
    email: Email.nullish(),
    telefone: Telefone.nullish(),
    duracaoConsultaMin: z.number().int().min(5).max(DURACAO_CONSULTA_MAX_MIN).default(30),
    maxEncaixesDia: z.number().int().min(0).max(20).default(2),
    horarios: Horarios.default([]),
    ativo: z.boolean().default(true),
  })
  .meta({ id: 'MedicoInput', example: EXEMPLO_MEDICO_INPUT });
export type MedicoInput = z.output<typeof MedicoInput>;

export const Medico = z
  .object({
    id: z.uuid(),
    nome: z.string(),
    crm: z.string(),
    especialidade: z.string(),
    email: z.string().nullable(),
    telefone: z.string().nullable(),
    // The API's limits hold for stored records too: a restore must not bring a longer consulta than every overlap
    // query looks back for (LONGEST_CONSULTA_MS).
    duracaoConsultaMin: z.number().int().min(5).max(DURACAO_CONSULTA_MAX_MIN),
    maxEncaixesDia: z.number().int().min(0).max(20).default(2),
    // As the API takes them (a restore checks them too): at most 50, since every agenda walks them all, day by day (a
    // restored 50,000 held the event loop for seconds); each a weekday and HH:MM times, none overlapping another.
    horarios: Horarios,
    ativo: z.boolean(),
    criadoEm: Instant,
    atualizadoEm: Instant,
  })
  .meta({ id: 'Medico', example: EXEMPLO_MEDICO });
export type Medico = z.output<typeof Medico>;

export const ListMedicosQuery = z.object({
  especialidade: SearchText.optional().meta({ description: 'Especialidade exata (sem diferenciar maiúsculas e acentos)' }),
  ativo: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
  q: SearchText.optional().meta({ description: 'Parte do nome (sem diferenciar maiúsculas e acentos)' }),
  ...Pagination,
});
export type ListMedicosQuery = z.output<typeof ListMedicosQuery>;

export const MedicoList = listOf(Medico, 'MedicoList');
