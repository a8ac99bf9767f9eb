import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cpfFromNumber, isValidCpf } from '../../src/schemas/paciente.schema.js';
import { cpfProblem, isCpf } from '../../web/src/cpf.js';

describe('CPF checked as typed', () => {
  it('when any 11 digits are tried, then the app agrees with the server', () => {
    fc.assert(fc.property(fc.stringMatching(/^\d{11}$/), (digits) => isCpf(digits) === isValidCpf(digits)), { numRuns: 5000 });
    fc.assert(fc.property(fc.integer({ min: 0, max: 999_999_999 }), (n) => isCpf(cpfFromNumber(n))));
  });

  it('when typed, then an invalid complete CPF says so and an incomplete one waits', () => {
    expect(cpfProblem('529.982.247-25')).toBeUndefined();
    expect(cpfProblem('529.982.247-24')).toBe('CPF inválido');
    expect(cpfProblem('111.111.111-11')).toBe('CPF inválido');
    expect(cpfProblem('529.98')).toBeUndefined();
    expect(cpfProblem('')).toBeUndefined();
    expect(cpfProblem('5299822472512')).toBe('CPF inválido');
    expect(cpfProblem('52a')).toMatch(/^CPF inválido/);
  });
});
