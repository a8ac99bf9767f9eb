import { describe, expect, it } from 'vitest';
import { fieldErrors, fieldName, toProblem, unplacedErrors } from '../../web/src/problem.js';

describe('problems shown next to their fields', () => {
  const problem = toProblem(400, {
    type: '/problemas/validacao',
    title: 'Requisição inválida',
    status: 400,
    detail: 'Há campos inválidos.',
    errors: [
      { path: 'body.cpf', message: 'CPF inválido.' },
      { path: 'body.cpf', message: 'Outro.' },
      { path: 'body.paciente.nome', message: 'Nome curto.' },
      { path: 'query.data', message: 'Data inválida.' },
      { path: 'Idempotency-Key', message: 'Chave inválida.' },
    ],
  });

  it('when errors name fields the form has, then each field gets its messages and the rest stay for the alert', () => {
    expect(fieldErrors(problem, ['cpf', 'nome'])).toEqual({ cpf: 'CPF inválido. Outro.', nome: 'Nome curto.' });
    expect(unplacedErrors(problem, ['cpf', 'nome']).map((e) => e.path)).toEqual(['query.data', 'Idempotency-Key']);
    expect(fieldErrors(null, ['cpf'])).toEqual({});
  });

  it('when paths carry where the API looked, then the prefix is dropped', () => {
    expect(fieldName('body.dataNascimento')).toBe('dataNascimento');
    expect(fieldName('query')).toBe('');
    expect(fieldName('bodyguard')).toBe('bodyguard');
  });

  it('when the answer is not a problem document, then a pt-BR detail is made up and errors are empty', () => {
    expect(toProblem(502, '<html>')).toMatchObject({ status: 502, detail: 'Erro (HTTP 502).', errors: [] });
    expect(toProblem(0, null).detail).toMatch(/Sem conexão/);
    expect(toProblem(400, { detail: 'x', errors: [{ path: 1 }, { path: 'a', message: 'b' }] }).errors).toEqual([{ path: 'a', message: 'b' }]);
  });
});
