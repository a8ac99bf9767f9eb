import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { LOCK_NAME } from '../../src/infra/storage/json/lock.js';
import { makeApp, medicoBody, pacienteBody } from '../helpers/app.js';
import { listen } from '../helpers/sse.js';

const PROBLEM = /^application\/problem\+json/;

describe('malformed requests', () => {
  it('when the JSON is malformed, then 400 json-invalido', async () => {
    const { app } = await makeApp();
    const res = await request(app).post('/medicos').set('Content-Type', 'application/json').send('{"nome": "Ana",');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body).toEqual({
      type: '/problemas/json-invalido',
      title: 'JSON malformado',
      status: 400,
      detail: 'O corpo da requisição não é um JSON válido.',
      instance: '/medicos',
    });
  });

  it('when the body is JSON but not an object, then 400', async () => {
    const { app } = await makeApp();
    for (const body of ['[]', '"texto"', '42', 'null']) {
      const res = await request(app).post('/pacientes').set('Content-Type', 'application/json').send(body);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(PROBLEM);
    }
  });

  it('when a date or a number in the query is malformed, then one plain pt-BR message per value', async () => {
    const { app } = await makeApp();
    const medico = await request(app).post('/medicos').send(medicoBody()).expect(201);
    const agenda = (data: string) => request(app).get(`/medicos/${medico.body.id}/agenda`).query({ data });
    // Before: 2026-13-03 was both "Use o formato AAAA-MM-DD." and "Data inexistente."; "abc" too.
    for (const [data, message] of [
      ['2026-13-03', 'Data inexistente.'],
      ['2026-02-30', 'Data inexistente.'],
      ['abc', 'Use o formato AAAA-MM-DD.'],
      ['03/12/2026', 'Use o formato AAAA-MM-DD.'],
    ]) {
      const res = await agenda(data!);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body.errors).toEqual([{ path: 'data', message }]);
    }
    // Before: "esperava um número, recebeu um valor "NaN"".
    const res = await request(app).get('/pacientes').query({ limit: 'abc' });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ path: 'limit', message: 'Informe um número.' }]);
  });

  it('when there is no body, then 400 saying the body is required', async () => {
    const { app } = await makeApp();
    const res = await request(app).post('/medicos');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ type: '/problemas/validacao', errors: [{ path: 'body', message: 'Corpo JSON obrigatório.' }] });
  });

  it('when a body has one or several validation errors, then the detail counts them in good Portuguese', async () => {
    const { app } = await makeApp();
    const one = await request(app).post('/medicos').send({ ...medicoBody(), nome: '' });
    expect(one.status).toBe(400);
    expect(one.body.detail).toBe('A requisição tem 1 erro de validação.');
    const several = await request(app).post('/medicos').send({});
    expect(several.status).toBe(400);
    expect(several.body.errors.length).toBeGreaterThan(1);
    expect(several.body.detail).toBe(`A requisição tem ${several.body.errors.length} erros de validação.`);
  });

  it('when the content type is not JSON, then 415', async () => {
    const { app } = await makeApp();
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const res = await request(app).put('/medicos/x').set('Content-Type', type).send('nome=Ana');
      expect(res.status).toBe(415);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body).toMatchObject({ type: '/problemas/tipo-de-conteudo-nao-suportado', status: 415 });
    }
  });

  it('when the charset is not UTF-8-compatible, then 415', async () => {
    const { app } = await makeApp();
    const res = await request(app).post('/medicos').set('Content-Type', 'application/json; charset=ebcdic').send('{}');
    expect(res.status).toBe(415);
  });

  it('when the body passes 100 kB, then 413 and nothing is stored', async () => {
    const { app, container } = await makeApp();
    const res = await request(app).post('/pacientes').send(pacienteBody({ nome: 'x'.repeat(110 * 1024) }));
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ type: '/problemas/corpo-grande-demais', status: 413 });
    expect((await container.storage.counts()).pacientes).toBe(0);
  });

  it('when the route does not exist, then 404 problem', async () => {
    const { app } = await makeApp();
    const res = await request(app).get('/nada/aqui?cpf=52998224725');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ type: '/problemas/rota-inexistente', instance: '/nada/aqui' });
  });

  it('when strings are hostile (unicode, huge, control characters), then 4xx and never 5xx', async () => {
    const { app } = await makeApp();
    for (const nome of ['\u0000', '🩺'.repeat(200), '<script>', 'a'.repeat(5000), '   ']) {
      const res = await request(app).post('/medicos').send(medicoBody({ nome }));
      expect(res.status).toBeLessThan(500);
    }
    for (const q of ['%', '\u202e', 'x'.repeat(300)]) {
      expect((await request(app).get('/pacientes').query({ q })).status).toBeLessThan(500);
    }
  });
});

describe('storage failures', () => {
  it('when the lock cannot be obtained in time, then 503 problem and nothing is stored', async () => {
    const { app, dataDir, container } = await makeApp({ env: { LOCK_STALE_MS: '60000' } });
    await container.store!.checkpoint(); // the sign-in's commit has let go of the lock
    mkdirSync(path.join(dataDir, LOCK_NAME)); // a live holder that never lets go
    const res = await request(app).post('/medicos').send(medicoBody());
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body).toMatchObject({ type: '/problemas/armazenamento-indisponivel', status: 503 });
    expect(JSON.stringify(res.body)).not.toMatch(/at \w+ \(/); // no stack trace
    expect((await container.storage.counts()).medicos).toBe(0);
  }, 20_000);
});

describe('GET /health', () => {
  it('when many health checks arrive at once, then they share one probe and all answer 200', async () => {
    const { app } = await makeApp();
    const server = await listen(app);
    const statuses = await Promise.all(Array.from({ length: 100 }, async () => (await fetch(`${server.url}/health`)).status));
    expect(statuses).toEqual(Array(100).fill(200));
    await server.close();
  });

  it('when storage is writable, then 200 ok', async () => {
    const { app } = await makeApp();
    const res = await request(app).get('/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('when the data directory cannot be written, then 503 problem', async () => {
    const { app, dataDir } = await makeApp();
    // Root ignores permission bits, so take the directory away instead: writes now fail with ENOTDIR.
    rmSync(dataDir, { recursive: true });
    writeFileSync(dataDir, 'not a directory');
    const res = await request(app).get('/health');
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ type: '/problemas/armazenamento-indisponivel', status: 503 });
  });
});

describe('durability through the app', () => {
  it('when the app is rebuilt on the same directory, then what was created is still there', async () => {
    const first = await makeApp();
    const m = await request(first.app).post('/medicos').send(medicoBody()).expect(201);
    const p = await request(first.app).post('/pacientes').send(pacienteBody()).expect(201);
    await first.container.close();
    const journal = readFileSync(path.join(first.dataDir, 'medicos.json'), 'utf8');
    expect(journal).toContain(m.body.id);
    const second = await makeApp({ env: { DATA_DIR: first.dataDir } });
    await request(second.app).get(`/medicos/${m.body.id}`).expect(200);
    await request(second.app).get(`/pacientes/${p.body.id}`).expect(200);
  });
});
