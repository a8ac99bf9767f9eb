import { DateOnly, Email, Instant, Nome, Pagination, SearchText, Telefone, listOf, z } from './common.js';
import { EXEMPLO_PACIENTE, EXEMPLO_PACIENTE_INPUT } from './examples.js';

/** The check digit that follows `digits` (9 digits give the first, 10 the second). */
function cpfCheckDigit(digits: string): number {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) sum += Number(digits[i]) * (digits.length + 1 - i);
  const rest = (sum * 10) % 11;
  return rest === 10 ? 0 : rest;
}

/** True when the 11 digits carry valid CPF check digits and are not all the same digit. */
export function isValidCpf(digits: string): boolean {
  if (!/^\d{11}$/.test(digits) || /^(\d)\1{10}$/.test(digits)) return false;
  return cpfCheckDigit(digits.slice(0, 9)) === Number(digits[9]) && cpfCheckDigit(digits.slice(0, 10)) === Number(digits[10]);
}

/** A valid CPF for every number below 10^9 (its check digits computed): demo data, tests and benchmarks. */
export function cpfFromNumber(n: number): string {
  const base = String(100_000_000 + n).slice(-9);
  const first = cpfCheckDigit(base);
  return `${base}${first}${cpfCheckDigit(`${base}${first}`)}`;
}

/** `529.982.247-25` or `52998224725`, returned as 11 digits. */
export const Cpf = z
  .string()
  .trim()
  .regex(/^(\d{3}\.\d{3}\.\d{3}-\d{2}|\d{11})$/, 'CPF deve ter 11 dígitos (com ou sem pontuação).')
  .transform((s) => s.replace(/\D/g, ''))
  .refine(isValidCpf, 'CPF inválido.');

export const PacienteInput = z
  .object({
    nome: Nome,
    cpf: Cpf,
    dataNascimento: DateOnly.refine((d) => d >= '1900-01-01', 'Data de nascimento anterior a 1900.'),
    email: Email.nullish(),
    telefone: Telefone.nullish(),
  })
  .meta({ id: 'PacienteInput', example: EXEMPLO_PACIENTE_INPUT });
export type PacienteInput = z.output<typeof PacienteInput>;

export const Paciente = z
  .object({
    id: z.uuid(),
    nome: z.string(),
    // As stored (a restore checks it too): 11 digits with valid check digits, or '' once anonymised.
    cpf: z
      .string()
      .regex(/^(\d{11})?$/, 'CPF deve ter 11 dígitos.')
      .refine((cpf) => cpf === '' || isValidCpf(cpf), 'CPF inválido.')
      .meta({ description: '11 dígitos; vazio quando o paciente foi anonimizado' }),
    dataNascimento: z.string().meta({ format: 'date' }),
    email: z.string().nullable(),
    telefone: z.string().nullable(),
    criadoEm: Instant,
    atualizadoEm: Instant,
  })
  .meta({ id: 'Paciente', example: EXEMPLO_PACIENTE });
export type Paciente = z.output<typeof Paciente>;

export const ListPacientesQuery = z.object({
  q: SearchText.optional().meta({ description: 'Parte do nome (sem diferenciar maiúsculas e acentos)' }),
  cpf: Cpf.optional(),
  ...Pagination,
});
export type ListPacientesQuery = z.output<typeof ListPacientesQuery>;

export const PacienteList = listOf(Paciente, 'PacienteList');
