/**
 * CPF check as typed. The server's `isValidCpf` lives in a module that builds zod schemas at load time, which
 * would pull zod into the bundle; this is the same algorithm, and `tests/web/cpf.test.ts` checks that both
 * agree on every input it tries.
 */
function checkDigit(digits: string): number {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) sum += Number(digits[i]) * (digits.length + 1 - i);
  const rest = (sum * 10) % 11;
  return rest === 10 ? 0 : rest;
}

/** The message to show beside the CPF field for what was typed so far, or undefined when nothing is wrong yet. */
export function cpfProblem(typed: string): string | undefined {
  const trimmed = typed.trim();
  if (trimmed === '') return undefined;
  if (!/^[\d.\-\s]*$/.test(trimmed)) return 'CPF inválido: use só números, pontos e hífen.';
  const digits = trimmed.replace(/\D/g, '');
  if (digits.length < 11) return undefined; // still typing
  return isCpf(digits) ? undefined : 'CPF inválido';
}

/** True when the 11 digits carry valid check digits and are not all the same digit. */
export function isCpf(digits: string): boolean {
  if (!/^\d{11}$/.test(digits) || /^(\d)\1{10}$/.test(digits)) return false;
  return checkDigit(digits.slice(0, 9)) === Number(digits[9]) && checkDigit(digits.slice(0, 10)) === Number(digits[10]);
}
