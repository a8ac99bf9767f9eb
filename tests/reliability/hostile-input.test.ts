import fc from 'fast-check';
import { dataFileBytes } from '../helpers/files.js';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { makeApp } from '../helpers/app.js';
import { clinic } from '../helpers/scheduling.js';
import { listen } from '../helpers/sse.js';

const RUNS = Number(process.env.HOSTILE_RUNS ?? 5000);


/** Every route (event streams aside: they never end), with placeholders for what varies. */
const ROUTES = [
  ['get', '/medicos'], ['post', '/medicos'], ['get', '/medicos/{id}'], ['put', '/medicos/{id}'], ['delete', '/medicos/{id}'],
  ['get', '/medicos/{id}/agenda'],
  ['get', '/pacientes'], ['post', '/pacientes'], ['get', '/pacientes/{id}'], ['put', '/pacientes/{id}'], ['delete', '/pacientes/{id}'],
  ['get', '/consultas'], ['post', '/consultas/agendar'], ['get', '/consultas/{id}'], ['patch', '/consultas/{id}'],
  ['post', '/consultas/{id}/cancelar'], ['post', '/consultas/{id}/remarcar'],
  ['get', '/sistema/tasks'], ['get', '/sistema/tasks/{id}'], ['get', '/sistema/backups'], ['get', '/sistema/backups/{id}'],
  ['post', '/sistema/backups/{id}/restaurar'], ['get', '/sistema/relatorios'], ['get', '/sistema/relatorios/{id}'],
  ['get', '/sistema/logs'], ['get', '/sistema/status'], ['get', '/health'], ['get', '/{id}'], ['options', '/medicos'],
] as const;

const hostileString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 50 }),
  fc.constantFrom('..', '../../etc/passwd', '%2e%2e%2f', '\u0000', '\u202e', '💥', 'null', '-1', '1e309', 'NaN', '<script>', "' OR 1=1 --"),
  fc.string({ minLength: 3000, maxLength: 6000 }),
  fc.uuid(),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
);

const knownField = fc.constantFrom(
  'nome', 'crm', 'cpf', 'especialidade', 'email', 'telefone', 'duracaoConsultaMin', 'horarios', 'ativo', 'dataNascimento',
  'medicoId', 'pacienteId', 'inicio', 'observacoes', 'motivo', 'status', 'de', 'ate', 'limit', 'offset', 'q', 'data', '__proto__', 'constructor',
);

const value: fc.Arbitrary<unknown> = fc.oneof(hostileString, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.anything(), { maxLength: 5 }), fc.object({ maxDepth: 2 }));

const body = fc.oneof(
  fc.dictionary(knownField, value).map((o) => JSON.stringify(o)),
  fc.anything().map((v) => JSON.stringify(v) ?? ''),
  fc.constantFrom('{', '{"nome":', '[1,2', 'nul', '"\\ud800"', '{"a":1}}', ''),
  fc.string({ minLength: 0, maxLength: 200 }),
  fc.constant(`{"nome":"${'x'.repeat(120_000)}"}`),
);

const requestShape = fc.record({
  route: fc.constantFrom(...ROUTES),
  id: hostileString,
  query: fc.dictionary(fc.oneof(knownField, fc.string({ maxLength: 10 })), hostileString, { maxKeys: 4 }),
  body: fc.option(body, { nil: undefined }),
  contentType: fc.option(fc.constantFrom('application/json', 'text/plain', 'application/json; charset=latin1', 'application/json; charset=utf-16', 'multipart/form-data', 'x/y;;;', 'application/merge-patch+json'), { nil: undefined }),
  headers: fc.dictionary(fc.constantFrom('Prefer', 'Idempotency-Key', 'Last-Event-ID', 'X-Request-Id', 'Accept'), fc.string({ maxLength: 300 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')), { maxKeys: 3 }),
});

describe('hostile input', () => {
  it(`when ${RUNS} generated malformed or hostile requests hit every endpoint, then none answers 5xx and no data file changes`, async () => {
    const t = await makeApp();
    await clinic(t.app, { medicos: 2, pacientes: 2 });
    // Audit entries of those writes leave the outbox after the answers: let them settle first.
    await t.container.auditor.flush();
    const before = dataFileBytes(t.dataDir);
    // One listening server for all requests (supertest would otherwise open one per request).
    const server = await listen(t.app);
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requestShape, async (r) => {
        const [method, template] = r.route;
        const url = template.replace('{id}', encodeURIComponent(r.id)).slice(0, 8000);
        let req = request(server.url)[method](url).timeout(10_000).query(r.query);
        for (const [name, v] of Object.entries(r.headers)) req = req.set(name, v);
        if (r.contentType) req = req.set('Content-Type', r.contentType);
        if (r.body !== undefined && method !== 'get' && method !== 'options') req = req.send(r.body);
        const res = await req;
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expect(res.status, `${method.toUpperCase()} ${url.slice(0, 200)} → ${res.status} ${res.text?.slice(0, 300)}`).toBeLessThan(500);
        if (res.status >= 400) expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
    await server.close();
    await t.container.queue.onIdle();
    expect(dataFileBytes(t.dataDir)).toEqual(before);
    expect([...statuses.keys()].every((s) => s < 500)).toBe(true);
    expect((await request(t.app).get('/health')).status).toBe(200); // still alive
  }, 180_000);
});
