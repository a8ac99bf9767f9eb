import { z } from 'zod';
import 'zod-openapi';
import { EXEMPLO_INSTANTE, EXEMPLO_PROBLEM } from './examples.js';

// Validation messages reach users: pt-BR, with plainer words for a missing field and for text where a number goes
// (a query parameter such as `?limit=abc`, coerced to NaN, read "recebeu um valor NaN").
z.config(z.locales.ptBR());
z.config({
  customError: (issue) => {
    if (issue.code !== 'invalid_type') return undefined;
    if (issue.input === undefined) return 'Campo obrigatório.';
    if (issue.expected === 'number' && Number.isNaN(issue.input)) return 'Informe um número.';
    return undefined;
  },
});

export { z };

/**
 * Years a date or an instant may have. Whatever the app computes from one (the end of its day, of a slot, the clinic
 * zone's offset, which before 1914 was São Paulo's local mean time) stays a four-digit year, which both drivers and
 * PostgreSQL's timestamps read back: year 0 or 9999 passed the format and then failed in the database.
 */
export const ANO_MIN = 1900;
export const ANO_MAX = 2999;
export const ANO_FORA_MESSAGE = `Ano fora do intervalo aceito (${ANO_MIN}–${ANO_MAX}).`;
/** True when `iso` (a date or an instant, `YYYY-…`) has a year in range; other shapes are left to the format check. */
export const yearInRange = (iso: string): boolean => {
  if (!/^\d{4}-/.test(iso)) return true;
  const year = Number(iso.slice(0, 4));
  return year >= ANO_MIN && year <= ANO_MAX;
};

/** A point in time as milliseconds since the epoch (stored by sessions and idempotency records), in the accepted years. */
export const EpochMs = z
  .number()
  .int()
  .min(Date.UTC(ANO_MIN, 0, 1), ANO_FORA_MESSAGE)
  .max(Date.UTC(ANO_MAX + 1, 0, 1) - 1, ANO_FORA_MESSAGE);

export const Instant = z.string().meta({
  format: 'date-time',
  description: 'Instante ISO 8601 com o fuso da clínica',
  example: EXEMPLO_INSTANTE,
});

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * A calendar date `YYYY-MM-DD` that exists (no 2026-02-30). No example of its own: a birth date and a booking day
 * need different ones, and Swagger UI would pre-fill every query parameter with it (`data` and `de`/`ate` at once).
 */
export const DateOnly = z
  .string()
  // One message per value: a date in another format is not also called inexistent, nor 2026-13-03 a wrong format.
  .regex(DATE_RE, { message: 'Use o formato AAAA-MM-DD.', abort: true })
  .refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s), { message: 'Data inexistente.', abort: true })
  .refine(yearInRange, ANO_FORA_MESSAGE)
  .meta({ format: 'date' });

/** A time of day `HH:MM`, 00:00–23:59. */
export const TimeOfDay = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'Use o formato HH:MM (00:00 a 23:59).')
  .meta({ example: '08:00' });

// ---- Text limits (style habit 21: each lives here once; schemas, services and indexes import them) ----
// A record is kept whole in memory and in its data file, so an unbounded field lets one client make a file
// too big to load again (100k bookings with 2,000-character notes made a 669 MB file the server could not read).

/** Longest person name (médico, paciente, usuário), in characters. */
export const NOME_MAX = 200;
/** Longest `observacoes` of a consulta (or any free note). */
export const OBSERVACOES_MAX = 1000;
/** Longest reason, such as a cancellation's `motivo`. */
export const MOTIVO_MAX = 500;
/** Longest `especialidade`. */
export const ESPECIALIDADE_MAX = 100;
/** Longest e-mail address (RFC 5321's path limit). */
export const EMAIL_MAX = 254;
/** Longest telephone as typed, with spaces and punctuation. */
export const TELEFONE_MAX = 30;
/** Longest text of a search (`q`) or filter in a query string. */
export const BUSCA_MAX = 200;

/** The message for text holding control, bidi-override or invisible characters. */
export const CONTROL_CHARACTERS_MESSAGE = 'Caracteres de controle ou invisíveis não são permitidos.';

// C0 controls, DEL, C1 controls, the bidi embeddings/overrides/isolates (U+202A–U+202E, U+2066–U+2069) and the
// other invisible format characters: soft hyphen (U+00AD), the direction marks (U+061C, U+200E, U+200F), zero-width
// space and joiners (U+200B–U+200D), the line and paragraph separators (U+2028, U+2029), word joiner and invisible
// operators (U+2060–U+2064), U+180E, the BOM (U+FEFF), the interlinear annotations (U+FFF9–U+FFFB) and plane 14
// (tags; as UTF-16, its high surrogate U+DB40). They can hide or reorder what a receptionist reads on screen or in a
// report (a name that displays as something else, or as another paciente's), defeat a search by name, and break
// log lines and file formats. Written as UTF-16 code units, without the `u` flag: so the server refuses every
// plane-14 character (the variation selectors U+E0100–U+E01EF too, which Portuguese text does not use). A client
// that checks the OpenAPI document's pattern in Unicode mode (ajv) lets plane 14 through, and the server refuses it.
// Also refused: characters that draw nothing though they are not format characters, the Hangul fillers (U+115F,
// U+1160, U+3164, U+FFA0) and the blank Braille pattern (U+2800): a name made of them shows as empty. Combining
// marks stay allowed (accents can be written with them), those that draw nothing among them (U+034F, U+17B4,
// U+17B5): each needs a letter before it. So do the variation selectors U+FE00–U+FE0F: an emoji pasted into a note
// carries them.
const INVISIBLE = '\\u00AD\\u061C\\u115F\\u1160\\u180E\\u200B-\\u200F\\u202A-\\u202E\\u2060-\\u2069\\u2800\\u3164\\uFEFF\\uFFA0\\uFFF9-\\uFFFB\\uDB40';
const SINGLE_LINE = new RegExp(`^[^\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029${INVISIBLE}]*$`);
/**
 * A reference to a record (a médico's, a paciente's, a usuário's id) in a body or a query string. Anything that is not
 * one of our ids is simply not found, but a control character is refused first: PostgreSQL's text cannot hold a NUL,
 * so it could not even be looked up.
 */
export const RefId = z.string().max(100).regex(SINGLE_LINE, CONTROL_CHARACTERS_MESSAGE);

/** Ids in URLs: as {@link RefId}, any length (a long one is simply not found). */
export const IdParams = z.object({ id: z.string().regex(SINGLE_LINE, CONTROL_CHARACTERS_MESSAGE).meta({ description: 'Id (UUID)', format: 'uuid' }) });

// Notes may hold line breaks (U+2028 and U+2029 among them, as text pasted from a word processor brings) and tabs
// (typed in a textarea); every other control or invisible character is refused.
const MULTI_LINE = new RegExp(`^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F${INVISIBLE}]*$`);

export interface TextoOptions {
  /** Most characters (UTF-16 code units, as zod and JSON Schema's maxLength count them) after trimming. */
  max: number;
  /** Fewest characters after trimming. */
  min?: number;
  /** Allows line breaks and tabs (notes); every other control character is still refused. */
  multilinha?: boolean;
}

/**
 * The one builder for free text in input: trimmed, bounded by `max` (and `min`), with control and
 * bidi-override characters refused in pt-BR. Every free-text field of every input schema is built with it,
 * so a new field cannot forget the rule; the pattern also documents it in the OpenAPI document.
 */
export function texto(options: TextoOptions) {
  let schema = z.string().trim();
  if (options.min !== undefined) schema = schema.min(options.min, `Use ao menos ${options.min} caracteres.`);
  return schema
    .max(options.max, `Use no máximo ${options.max} caracteres.`)
    .regex(options.multilinha ? MULTI_LINE : SINGLE_LINE, CONTROL_CHARACTERS_MESSAGE);
}

export const Email = z.email('E-mail inválido.').max(EMAIL_MAX, `Use no máximo ${EMAIL_MAX} caracteres.`);

/** Brazilian phone numbers as people type them: `+55 11 91234-5678`, `(11) 1234-5678`. */
export const Telefone = texto({ max: TELEFONE_MAX })
  .regex(/^\+?[\d\s().-]+$/, 'Telefone inválido.')
  .refine((s) => {
    const digits = s.replace(/\D/g, '').length;
    return digits >= 10 && digits <= 13;
  }, 'Telefone deve ter de 10 a 13 dígitos.')
  .meta({ example: '+55 11 91234-5678' });

/** A person's name: 2 to {@link NOME_MAX} characters. */
export const Nome = texto({ min: 2, max: NOME_MAX });

export const Pagination = {
  limit: z.coerce.number().int().min(1).max(500).default(50).meta({ description: 'Máximo de itens (1–500)' }),
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0).meta({ description: 'Itens a pular' }),
};

/** The body of every list: a page of items and the total that matched; its example is a page of the item's. */
export function listOf<T extends z.ZodType>(item: T, id: string) {
  const itemExample: unknown = z.globalRegistry.get(item)?.['example'];
  return z
    .object({
      items: z.array(item),
      total: z.number().int(),
      limit: z.number().int(),
      offset: z.number().int(),
    })
    .meta({ id, ...(itemExample === undefined ? {} : { example: { items: [itemExample], total: 1, limit: 50, offset: 0 } }) });
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
    consultas: z.array(z.string()).optional().meta({ description: 'Ids das consultas afetadas (`/problemas/consultas-afetadas`)' }),
  })
  .meta({ id: 'Problem', example: EXEMPLO_PROBLEM });

/** Text query parameters: trimmed, bounded. */
export const SearchText = texto({ max: BUSCA_MAX });
