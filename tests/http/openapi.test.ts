import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import request, { type Response } from 'supertest';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { OPENAPI_FILE, generateOpenApiYaml } from '../../scripts/generate-openapi.js';
import { ManualClock } from '../../src/core/clock.js';
import { TEST_NOW, makeApp, medicoBody, pacienteBody } from '../helpers/app.js';
import { CPFS, at, clinic } from '../helpers/scheduling.js';
import { listen } from '../helpers/sse.js';

type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>> };

const require = createRequire(import.meta.url);
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;

describe('openapi.yaml', () => {
  it('when linted with Redocly\'s recommended rules, then it has no error and no warning', () => {
    // `@redocly/cli` warns that Node 20 is past its end of life; the lint itself runs fine on it.
    const out = execFileSync(process.execPath, [require.resolve('@redocly/cli/bin/cli.js'), 'lint', OPENAPI_FILE, '--format=json'], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    });
    const report = JSON.parse(out.slice(out.indexOf('{'))) as { totals: { errors: number; warnings: number } };
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  }, 60_000);

  it('when compared with what the route specs generate, then it is identical (run `npm run openapi`)', async () => {
    expect(readFileSync(OPENAPI_FILE, 'utf8')).toBe(await generateOpenApiYaml());
  });

  it('when served, then /openapi.yaml, /openapi.json and /docs answer', async () => {
    const { app } = await makeApp();
    const yaml = await request(app).get('/openapi.yaml').expect(200);
    expect(yaml.headers['content-type']).toMatch(/yaml/);
    expect(parse(yaml.text)).toEqual(parse(readFileSync(OPENAPI_FILE, 'utf8')));
    const json = await request(app).get('/openapi.json').expect(200);
    expect(json.body.openapi).toBe('3.1.0');
    const docs = await request(app).get('/docs/').expect(200);
    expect(docs.text).toContain('swagger-ui');
  });

  it('when every documented operation is called, then each response matches the document', async () => {
    const doc = parse(readFileSync(OPENAPI_FILE, 'utf8')) as Doc;
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema(doc, 'openapi');
    const seen = new Set<string>();

    const check = (method: string, template: string, res: Response): Response => {
      const operation = doc.paths[template]?.[method];
      expect(operation, `${method} ${template} is documented`).toBeDefined();
      const documented = operation!.responses[String(res.status)];
      expect(documented, `${method} ${template} documents ${res.status}`).toBeDefined();
      const type = String(res.headers['content-type'] ?? '').split(';')[0]!;
      const binary = documented!.content && !JSON.stringify(documented!.content).includes('$ref') && !type.includes('json');
      if (binary) {
        expect(Object.keys(documented!.content!)).toContain(type);
      } else if (documented!.content) {
        expect(Object.keys(documented!.content), `${method} ${template} ${res.status} content type`).toContain(type);
        const pointer = ['paths', template, method, 'responses', String(res.status), 'content', type, 'schema']
          .map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1'))
          .join('/');
        const validate = ajv.getSchema(`openapi#/${pointer}`)!;
        expect(validate(res.body), `${method} ${template} ${res.status}: ${ajv.errorsText(validate.errors)}`).toBe(true);
      } else {
        expect(res.text ?? '').toBe('');
      }
      seen.add(`${method} ${template} ${res.status}`);
      return res;
    };

    // The validator itself must be able to say no.
    const medicoSchema = ajv.getSchema('openapi#/paths/~1medicos~1{id}/get/responses/200/content/application~1json/schema')!;
    expect(medicoSchema({ id: 'x' })).toBe(false);

    const clock = new ManualClock(TEST_NOW);
    const { app, container } = await makeApp({ clock });
    const missing = '00000000-0000-4000-8000-000000000000';
    for (const [base, body, other] of [
      ['/medicos', medicoBody, { crm: '7777/BA' }],
      ['/pacientes', pacienteBody, { cpf: '11144477735' }],
    ] as const) {
      const one = `${base}/{id}`;
      const created = check('post', base, await request(app).post(base).send(body()));
      const id = created.body.id as string;
      check('post', base, await request(app).post(base).send(body()));
      check('post', base, await request(app).post(base).send({}));
      check('post', base, await request(app).post(base).set('Content-Type', 'text/plain').send('x'));
      check('post', base, await request(app).post(base).send(body({ nome: 'x'.repeat(200_000) })));
      check('get', base, await request(app).get(base));
      check('get', base, await request(app).get(base).query({ limit: 0 }));
      check('get', one, await request(app).get(`${base}/${id}`));
      check('get', one, await request(app).get(`${base}/${missing}`));
      check('put', one, await request(app).put(`${base}/${id}`).send(body()));
      check('put', one, await request(app).put(`${base}/${missing}`).send(body()));
      check('put', one, await request(app).put(`${base}/${id}`).send({}));
      const second = await request(app).post(base).send(body(other));
      check('put', one, await request(app).put(`${base}/${second.body.id}`).send(body()));
      check('delete', one, await request(app).delete(`${base}/${id}`));
      check('delete', one, await request(app).delete(`${base}/${id}`));
    }
    check('get', '/health', await request(app).get('/health'));

    // Scheduling.
    const { medicoId, pacienteId } = await clinic(app);
    const other = await request(app).post('/pacientes').send(pacienteBody({ cpf: CPFS[2] })).expect(201);
    const pacientes = [pacienteId, other.body.id as string];
    const book = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
      request(app).post('/consultas/agendar').set(headers).send({ medicoId, pacienteId, ...body });
    const consulta = check('post', '/consultas/agendar', await book({ inicio: at('08:00') }));
    const cid = consulta.body.id as string;
    check('post', '/consultas/agendar', await book({ inicio: at('08:00') }));
    check('post', '/consultas/agendar', await book({ inicio: at('08:05') }));
    check('post', '/consultas/agendar', await book({ inicio: 'ontem' }));
    check('post', '/consultas/agendar', await request(app).post('/consultas/agendar').set('Content-Type', 'text/plain').send('x'));
    check('post', '/consultas/agendar', await book({ inicio: at('08:30'), observacoes: 'x'.repeat(200_000) }));
    const accepted = check('post', '/consultas/agendar', await book({ inicio: at('09:00'), pacienteId: pacientes[1] }, { Prefer: 'respond-async' }));
    await container.queue.onIdle();
    check('get', '/sistema/tasks', await request(app).get('/sistema/tasks'));
    check('get', '/sistema/tasks', await request(app).get('/sistema/tasks').query({ tipo: 'nada' }));
    check('get', '/sistema/tasks/{id}', await request(app).get(`/sistema/tasks/${accepted.body.id}`));
    check('get', '/sistema/tasks/{id}', await request(app).get(`/sistema/tasks/${missing}`));
    check('get', '/consultas', await request(app).get('/consultas').query({ medicoId }));
    check('get', '/consultas', await request(app).get('/consultas').query({ status: 'x' }));
    check('get', '/consultas/{id}', await request(app).get(`/consultas/${cid}`));
    check('get', '/consultas/{id}', await request(app).get(`/consultas/${missing}`));
    check('get', '/medicos/{id}/agenda', await request(app).get(`/medicos/${medicoId}/agenda`).query({ data: '2026-12-07' }));
    check('get', '/medicos/{id}/agenda', await request(app).get(`/medicos/${medicoId}/agenda`));
    check('get', '/medicos/{id}/agenda', await request(app).get(`/medicos/${missing}/agenda`).query({ data: '2026-12-07' }));
    const bloqueio = check('post', '/medicos/{id}/bloqueios', await request(app).post(`/medicos/${medicoId}/bloqueios`).send({ inicio: at('17:00'), fim: at('18:00'), motivo: 'Reunião' }));
    check('post', '/medicos/{id}/bloqueios', await request(app).post(`/medicos/${medicoId}/bloqueios`).send({ inicio: at('08:00'), fim: at('09:00'), motivo: 'x' }));
    check('get', '/medicos/{id}/bloqueios', await request(app).get(`/medicos/${medicoId}/bloqueios`));
    check('delete', '/bloqueios/{id}', await request(app).delete(`/bloqueios/${bloqueio.body.id}`));
    check('delete', '/bloqueios/{id}', await request(app).delete(`/bloqueios/${missing}`));
    const feriado = check('post', '/feriados', await request(app).post('/feriados').send({ data: '2026-12-08', nome: 'Feriado municipal' }));
    check('get', '/feriados', await request(app).get('/feriados').query({ ano: 2026 }));
    check('get', '/feriados', await request(app).get('/feriados'));
    check('delete', '/feriados/{id}', await request(app).delete(`/feriados/${feriado.body.id}`));
    check('post', '/consultas/{id}/remarcar', await request(app).post(`/consultas/${cid}/remarcar`).send({ inicio: at('10:00') }));
    check('post', '/consultas/{id}/remarcar', await request(app).post(`/consultas/${cid}/remarcar`).send({ inicio: at('09:00') }));
    check('post', '/consultas/{id}/remarcar', await request(app).post(`/consultas/${cid}/remarcar`).send({ inicio: at('10:10') }));
    check('post', '/consultas/{id}/remarcar', await request(app).post(`/consultas/${cid}/remarcar`).set('Prefer', 'respond-async').send({ inicio: at('10:30') }));
    await container.queue.onIdle();
    check('patch', '/consultas/{id}', await request(app).patch(`/consultas/${cid}`).send({ status: 'realizada' }));
    check('patch', '/consultas/{id}', await request(app).patch(`/consultas/${missing}`).send({ status: 'realizada' }));
    check('post', '/consultas/{id}/cancelar', await request(app).post(`/consultas/${cid}/cancelar`).send({ motivo: 'x' }));
    check('post', '/consultas/{id}/cancelar', await request(app).post(`/consultas/${cid}/cancelar`).send({}));
    check('post', '/consultas/{id}/cancelar', await request(app).post(`/consultas/${missing}/cancelar`));
    clock.set(new Date('2026-12-07T14:00:00Z'));
    const past = (await request(app).get('/consultas').query({ status: 'agendada' })).body.items[0];
    check('patch', '/consultas/{id}', await request(app).patch(`/consultas/${past.id}`).send({ status: 'faltou' }));
    // Front desk (v2): check-in from 2 h before the start (now 11:00 in São Paulo), and an encaixe.
    const soon = check('post', '/consultas/agendar', await book({ inicio: at('11:30') }));
    check('post', '/consultas/{id}/checkin', await request(app).post(`/consultas/${soon.body.id}/checkin`));
    check('post', '/consultas/{id}/checkin', await request(app).post(`/consultas/${soon.body.id}/checkin`));
    check('post', '/consultas/{id}/checkin', await request(app).post(`/consultas/${missing}/checkin`));
    check('post', '/consultas/agendar', await book({ inicio: at('11:35'), pacienteId: pacientes[1], encaixe: true, duracaoMin: 10 }));

    // Operations.
    const backupTask = check('post', '/sistema/tasks/backup', await request(app).post('/sistema/tasks/backup'));
    await container.queue.onIdle();
    const nome = (await request(app).get(`/sistema/tasks/${backupTask.body.id}`)).body.resultado.nome as string;
    check('get', '/sistema/backups', await request(app).get('/sistema/backups'));
    check('get', '/sistema/backups/{nome}', await request(app).get(`/sistema/backups/${nome}`));
    check('get', '/sistema/backups/{nome}', await request(app).get('/sistema/backups/nada.zip'));
    check('post', '/sistema/backups/{nome}/restaurar', await request(app).post(`/sistema/backups/${nome}/restaurar`));
    check('post', '/sistema/backups/{nome}/restaurar', await request(app).post('/sistema/backups/nada.zip/restaurar'));
    check('post', '/sistema/tasks/relatorio', await request(app).post('/sistema/tasks/relatorio').send({ de: 'ontem' }));
    check('post', '/sistema/tasks/relatorio', await request(app).post('/sistema/tasks/relatorio').send({ medicoId: 'x' }));
    check('post', '/sistema/tasks/relatorio', await request(app).post('/sistema/tasks/relatorio').send({ de: '2026-12-01', ate: '2026-12-31' }));
    await container.queue.onIdle();
    const relatorios = check('get', '/sistema/relatorios', await request(app).get('/sistema/relatorios'));
    check('get', '/sistema/relatorios/{nome}', await request(app).get(`/sistema/relatorios/${relatorios.body[0].nome}`));
    check('get', '/sistema/relatorios/{nome}', await request(app).get('/sistema/relatorios/x.pdf'));
    check('get', '/sistema/logs', await request(app).get('/sistema/logs'));
    check('get', '/sistema/logs', await request(app).get('/sistema/logs').query({ nivel: 'x' }));
    check('get', '/sistema/status', await request(app).get('/sistema/status'));

    // Access control, users, audit and LGPD.
    const senha = 'senha-do-teste-123';
    const user = check('post', '/usuarios', await request(app).post('/usuarios').send({ nome: 'Rita', email: 'rita@teste.local', papel: 'recepcao', senha }));
    check('post', '/usuarios', await request(app).post('/usuarios').send({ nome: 'Rita', email: 'rita@teste.local', papel: 'recepcao', senha }));
    check('get', '/usuarios', await request(app).get('/usuarios'));
    check('get', '/usuarios/{id}', await request(app).get(`/usuarios/${user.body.id}`));
    check('get', '/usuarios/{id}', await request(app).get(`/usuarios/${missing}`));
    check('put', '/usuarios/{id}', await request(app).put(`/usuarios/${user.body.id}`).send({ nome: 'Rita S.', email: 'rita@teste.local', papel: 'recepcao', ativo: true }));
    const login = check('post', '/auth/login', await request(app).post('/auth/login').send({ email: 'rita@teste.local', senha }));
    check('post', '/auth/login', await request(app).post('/auth/login').send({ email: 'rita@teste.local', senha: 'errada-errada' }));
    const rita = { Authorization: `Bearer ${login.body.token as string}` };
    check('get', '/auth/sessao', await request(app).get('/auth/sessao').set(rita));
    check('get', '/usuarios', await request(app).get('/usuarios').set(rita));
    check('post', '/auth/senha', await request(app).post('/auth/senha').set(rita).send({ senhaAtual: senha, novaSenha: 'outra-senha-123' }));
    check('post', '/auth/logout', await request(app).post('/auth/logout').set(rita));
    check('get', '/auth/sessao', await request(app).get('/auth/sessao').set(rita));
    check('delete', '/usuarios/{id}', await request(app).delete(`/usuarios/${user.body.id}`));
    check('get', '/pacientes/{id}/dados', await request(app).get(`/pacientes/${pacienteId}/dados`));
    check('get', '/pacientes/{id}/dados', await request(app).get(`/pacientes/${missing}/dados`));
    check('post', '/pacientes/{id}/anonimizar', await request(app).post(`/pacientes/${pacientes[1]}/anonimizar`));
    await container.auditor.flush();
    check('get', '/sistema/auditoria', await request(app).get('/sistema/auditoria').query({ pacienteId }));
    check('get', '/sistema/auditoria', await request(app).get('/sistema/auditoria').query({ de: 'ontem' }));
    check('get', '/sistema/auditoria/verificacao', await request(app).get('/sistema/auditoria/verificacao'));

    // Waiting list and next free slots.
    const espera = check('post', '/lista-espera', await request(app).post('/lista-espera').send({ pacienteId, medicoId, de: '2026-12-14', ate: '2026-12-18' }));
    check('post', '/lista-espera', await request(app).post('/lista-espera').send({ pacienteId, de: '2026-12-18', ate: '2026-12-14' }));
    check('post', '/lista-espera', await request(app).post('/lista-espera').send({ pacienteId: missing, medicoId, de: '2026-12-14', ate: '2026-12-18' }));
    check('get', '/lista-espera', await request(app).get('/lista-espera').query({ medicoId, ativa: 'true' }));
    check('get', '/lista-espera', await request(app).get('/lista-espera').query({ ativa: 'talvez' }));
    check('delete', '/lista-espera/{id}', await request(app).delete(`/lista-espera/${espera.body.id}`));
    check('delete', '/lista-espera/{id}', await request(app).delete(`/lista-espera/${espera.body.id}`));
    check('get', '/horarios-livres', await request(app).get('/horarios-livres').query({ especialidade: 'Cardiologia', limit: 3 }));
    check('get', '/horarios-livres', await request(app).get('/horarios-livres').query({ limit: 0 }));
    check('get', '/horarios-livres', await request(app).get('/horarios-livres').query({ medicoId: missing }));

    // The event streams, over a real connection.
    const server = await listen(app);
    for (const route of ['/sistema/agenda/stream', '/sistema/logs/stream']) {
      const stream = await fetch(`${server.url}${route}`);
      const type = stream.headers.get('content-type')!.split(';')[0]!;
      expect(Object.keys(doc.paths[route]!.get!.responses['200']!.content!)).toContain(type);
      seen.add(`get ${route} 200`);
      await stream.body?.cancel();
    }
    await server.close();

    // Every documented operation answered at least one 2xx that matched its schema.
    for (const [template, operations] of Object.entries(doc.paths)) {
      for (const method of Object.keys(operations)) {
        expect([...seen].some((s) => s.startsWith(`${method} ${template} 2`)), `${method} ${template} exercised`).toBe(true);
      }
    }
  });
});
