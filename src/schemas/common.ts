import { z } from 'zod';
import 'zod-openapi';

// Validation messages reach users: pt-BR, with a plainer word for a missing field.
z.config(z.locales.ptBR());
z.config({
  customError: (issue) => (issue.code === 'invalid_type' && issue.input === undefined ? 'Campo obrigatório.' : undefined),
});

export { z };

/** Ids in URLs. Anything that is not one of our UUIDs is simply not found. */
export const IdParams = z.object({ id: z.string().meta({ description: 'Id (UUID)', format: 'uuid' }) });

export const Instant = z.string().meta({
  format: 'date-time',
  description: 'Instante ISO 8601 com o fuso da clínica',
  example: '2026-12-01T09:00:00-03:00',
});

const DATE_RE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

/** A calendar date `YYYY-MM-DD` that exists (no 2026-02-30). */
export const DateOnly = z
  .string()
  .regex(DATE_RE, 'Use o formato AAAA-MM-DD.')
  .refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s), 'Data inexistente.')
  .meta({ format: 'date', example: '2026-12-01' });

/** A time of day `HH:MM`, 00:00–23:59. */
export const TimeOfDay = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'Use o formato HH:MM (00:00 a 23:59).')
  .meta({ example: '08:00' });

export const Email = z.email('E-mail inválido.').max(254);

/** Brazilian phone numbers as people type them: `+55 11 91234-5678`, `(11) 1234-5678`. */
export const Telefone = z
  .string()
  .trim()
  .regex(/^\+?[\d\s().-]{8,25}$/, 'Telefone inválido.')
  .refine((s) => {
    const digits = s.replace(/\D/g, '').length;
    return digits >= 10 && digits <= 13;
  }, 'Telefone deve ter de 10 a 13 dígitos.')
  .meta({ example: '+55 11 91234-5678' });

export const Nome = z.string().trim().min(2, 'Nome muito curto.').max(120, 'Nome muito longo.');

export const Pagination = {
  limit: z.coerce.number().int().min(1).max(500).default(50).meta({ description: 'Máximo de itens (1–500)' }),
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0).meta({ description: 'Itens a pular' }),
};

/** The body of every list: a page of items and the total that matched. */
export function listOf<T extends z.ZodType>(item: T, id: string) {
  return z
    .object({
      items: z.array(item),
      total: z.number().int(),
      limit: z.number().int(),
      offset: z.number().int(),
    })
    .meta({ id });
}

export const ProblemFieldError = z.object({ path: z.string(), message: z.string() });

/** RFC 9457 problem details, as every error answers. */
export const Problem = z
  .object({
    type: z.string().meta({ example: '/problemas/validacao' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string(),
    errors: z.array(ProblemFieldError).optional(),
  })
  .meta({ id: 'Problem' });

/** Text query parameters: trimmed, bounded. */
export const SearchText = z.string().trim().max(200);
