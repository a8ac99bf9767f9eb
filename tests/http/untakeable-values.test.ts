import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { bearer, makeApp, signIn } from '../helpers/app.js';
import { describeEachDriver } from '../helpers/drivers.js';
import { clinic } from '../helpers/scheduling.js';

/**
 * Values the database could not even look up — a NUL in an id or a filter (PostgreSQL's text cannot hold one), a year
 * 0 or 9999 (a day after 9999-12-31 is year 10000; year 0 in São Paulo's 1914 local mean time is year −1) — were
 * answered 500 on PostgreSQL by every route that reached it (found by a hostile-input run against a live server).
 * Both drivers now refuse them at the edge with 400, and nothing is written.
 */
const PROBLEM = /^application\/problem\+json/;
const NUL = '\u0000';
const YEAR_MESSAGE = 'Ano fora do intervalo aceito (1900–2999).';

/** The records a refused request could have written (the audit outbox drains on its own, sessions come and go). */
async function stored(container: Awaited<ReturnType<typeof makeApp>>['container']): Promise<Record<string, number>> {
  const { auditoria_pendente: _outbox, sessoes: _sessions, ...rest } = await container.storage.counts();
  return rest;
}

describeEachDriver(() => {
  describe('values the database cannot take', () => {
    it('when an id in the path holds a NUL, then 400 on every route, read or write, and nothing changes', async () => {
      const { app, container } = await makeApp();
      const { medicoId } = await clinic(app);
      const before = await stored(container);
      const requests = [
        ['get', '/medicos/%00'],
        ['put', '/medicos/%00'],
        ['get', '/medicos/%00/agenda?data=2026-12-07'],
        ['get', '/pacientes/%00'],
        ['delete', '/pacientes/%00'],
        ['get', '/pacientes/%00/dados'],
        ['post', '/pacientes/%00/anonimizar'],
        ['get', '/consultas/%00'],
        ['get', '/usuarios/%00'],
        ['delete', '/usuarios/%00'],
        ['delete', '/bloqueios/%00'],
        ['delete', '/feriados/%00'],
        ['delete', '/lista-espera/%00'],
        ['get', `/consultas?medicoId=%00`],
        ['get', `/consultas?pacienteId=a%00b`],
        ['get', `/horarios-livres?medicoId=%00`],
        ['get', '/sistema/auditoria?usuarioId=%00'],
        ['get', '/sistema/auditoria?pacienteId=%00'],
        ['get', '/sistema/auditoria?acao=%00'],
      ] as const;
      for (const [method, url] of requests) {
        const res = await request(app)[method](url).send(method === 'put' ? { nome: 'Ana' } : undefined);
        expect(res.status, `${method} ${url}`).toBe(400);
        expect(res.headers['content-type'], `${method} ${url}`).toMatch(PROBLEM);
        expect(res.body.type, `${method} ${url}`).toBe('/problemas/validacao');
      }
      // A body's ids too: a booking, a waiting-list entry, a report.
      const bodies = [
        ['/consultas/agendar', { medicoId: NUL, pacienteId: 'x', inicio: '2026-12-07T08:00:00-03:00' }],
        ['/consultas/agendar', { medicoId, pacienteId: `a${NUL}`, inicio: '2026-12-07T08:00:00-03:00' }],
        ['/lista-espera', { pacienteId: NUL, medicoId, de: '2026-12-07', ate: '2026-12-08' }],
        ['/lista-espera', { pacienteId: 'x', medicoId: NUL, de: '2026-12-07', ate: '2026-12-08' }],
        ['/sistema/tasks/relatorio', { medicoId: NUL }],
      ] as const;
      for (const [url, body] of bodies) {
        const res = await request(app).post(url).send(body);
        expect(res.status, url).toBe(400);
        expect(res.body, url).toMatchObject({ type: '/problemas/validacao', errors: [{ message: 'Caracteres de controle ou invisíveis não são permitidos.' }] });
      }
      expect(await stored(container)).toEqual(before);
    });

    it('when a date or an instant has a year outside 1900–2999, then 400 naming the field, and nothing is stored', async () => {
      const { app, container } = await makeApp();
      const { medicoId } = await clinic(app);
      const before = await stored(container);
      const reads = [
        ['/consultas?de=0000-01-01', 'de'],
        ['/consultas?ate=9999-12-31', 'ate'],
        [`/medicos/${medicoId}/agenda?data=0000-01-01`, 'data'],
        [`/medicos/${medicoId}/agenda?data=9999-12-31`, 'data'],
        ['/sistema/auditoria?de=0000-01-01', 'de'],
        ['/sistema/auditoria?ate=9999-12-31T00:00:00Z', 'ate'],
        [`/horarios-livres?medicoId=${medicoId}&de=0001-01-01`, 'de'],
      ] as const;
      for (const [url, field] of reads) {
        const res = await request(app).get(url);
        expect(res.status, url).toBe(400);
        expect(res.body.errors.map((e: { path: string }) => e.path), url).toContain(field);
      }
      const writes = [
        [`/medicos/${medicoId}/bloqueios`, { inicio: '0000-01-01T00:00:00Z', fim: '2026-12-10T08:00:00-03:00', motivo: 'ano zero' }, 'inicio', YEAR_MESSAGE],
        [`/medicos/${medicoId}/bloqueios`, { inicio: '2026-12-10T08:00:00-03:00', fim: '9999-12-31T23:00:00Z', motivo: 'fim do mundo' }, 'fim', YEAR_MESSAGE],
        ['/feriados', { data: '0000-01-01', nome: 'Ano zero' }, 'data', YEAR_MESSAGE],
        ['/feriados', { data: '9999-12-31', nome: 'Fim' }, 'data', YEAR_MESSAGE],
        // A date or an instant: the union names the field, not which of its two forms failed how.
        ['/lista-espera', { pacienteId: 'x', medicoId, de: '0000-01-01', ate: '9999-12-31' }, 'de', undefined],
      ] as const;
      for (const [url, body, field, message] of writes) {
        const res = await request(app).post(url).send(body);
        expect(res.status, url).toBe(400);
        expect(res.body.errors.map((e: { path: string }) => e.path), url).toContain(field);
        if (message) expect(res.body.errors, url).toContainEqual({ path: field, message });
      }
      expect(await stored(container)).toEqual(before);
      // The bounds themselves are inside.
      await request(app).post('/feriados').send({ data: '2999-12-31', nome: 'Último' }).expect(201);
      await request(app).get('/consultas?de=1900-01-01&ate=2999-12-31').expect(200);
    });

    it('when the caller is anonymous or lacks the permission, then 401 or 403 comes first, whatever the value', async () => {
      const { app, rawApp, container } = await makeApp();
      await request(rawApp).get('/pacientes/%00').expect(401);
      await request(rawApp).get('/sistema/auditoria?de=0000-01-01').expect(401);
      const recepcao = await signIn(container, 'recepcao');
      await request(rawApp).get('/sistema/auditoria?usuarioId=%00').set(bearer(recepcao.token)).expect(403);
      await request(app).get('/health').expect(200);
    });
  });
});
