import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { bearer, makeApp, medicoBody, signIn } from '../helpers/app.js';
import { agendar, at, clinic } from '../helpers/scheduling.js';
import { listen, openStream } from '../helpers/sse.js';

const ALLOWED = 'http://localhost:5173';

/** An app with a recepcao user signed in through the real login (so the cookie is real). */
async function withCookie(env: Record<string, string> = {}) {
  const made = await makeApp({ signedIn: false, env: { CORS_ORIGINS: ALLOWED, ...env } });
  await made.container.services.usuarios.create({ nome: 'Rita', email: 'rita@clinica.local', papel: 'admin', ativo: true, senha: 'senha-longa-da-rita' });
  const login = await request(made.app).post('/auth/login').send({ email: 'rita@clinica.local', senha: 'senha-longa-da-rita' }).expect(200);
  const cookie = (login.headers['set-cookie']![0] as string).split(';')[0]!;
  return { ...made, cookie, token: login.body.token as string };
}

describe('CSRF', () => {
  it('when a cross-site page posts with the session cookie (bodiless, text/plain or JSON), then 403 and nothing happens', async () => {
    const { app, cookie, container } = await withCookie();
    const before = (await container.storage.counts()).medicos;
    const attempts = [
      request(app).post('/sistema/tasks/backup').set('Cookie', cookie).set('Origin', 'https://evil.example'),
      request(app).post('/sistema/backups/backup-20260101-000000.zip/restaurar').set('Cookie', cookie).set('Origin', 'https://evil.example'),
      request(app).post('/medicos').set('Cookie', cookie).set('Origin', 'https://evil.example').set('Content-Type', 'text/plain').send('{}'),
      request(app).post('/medicos').set('Cookie', cookie).set('Origin', 'null').send(medicoBody()),
      // An old browser or a form that sends no Origin, but says it is cross-site.
      request(app).post('/auth/logout').set('Cookie', cookie).set('Sec-Fetch-Site', 'cross-site'),
      // Nothing to prove where it came from, with a cookie: refused too.
      request(app).post('/auth/logout').set('Cookie', cookie),
    ];
    for (const attempt of attempts) {
      const res = await attempt;
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ type: '/problemas/origem-nao-permitida' });
    }
    expect((await container.storage.counts()).medicos).toBe(before);
    expect(container.queue.list({ limit: 50 }).length).toBe(0);
    await request(app).get('/auth/sessao').set('Cookie', cookie).expect(200); // the session survived
  });

  it('when the request comes from the app itself, an allowed origin, or with a bearer token, then it goes through', async () => {
    const { app, cookie, token } = await withCookie();
    await request(app).post('/medicos').set('Cookie', cookie).set('Host', 'clinica.local:8000').set('Origin', 'http://clinica.local:8000').send(medicoBody()).expect(201);
    await request(app).post('/medicos').set('Cookie', cookie).set('Origin', ALLOWED).send(medicoBody({ crm: '2222/SP' })).expect(201);
    await request(app).post('/medicos').set('Cookie', cookie).set('Sec-Fetch-Site', 'same-origin').send(medicoBody({ crm: '3333/SP' })).expect(201);
    await request(app).post('/medicos').set(bearer(token)).send(medicoBody({ crm: '4444/SP' })).expect(201);
    // A login from a foreign page is refused as well (login CSRF).
    const foreign = await request(app).post('/auth/login').set('Origin', 'https://evil.example').send({ email: 'rita@clinica.local', senha: 'senha-longa-da-rita' });
    expect(foreign.status).toBe(403);
  });
});

describe('CORS and headers', () => {
  it('when an allowed origin asks, then it gets credentials CORS and preflight; another origin gets no CORS header', async () => {
    const { app } = await withCookie();
    const preflight = await request(app)
      .options('/consultas/agendar')
      .set('Origin', ALLOWED)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'content-type,idempotency-key');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(preflight.headers['access-control-allow-credentials']).toBe('true');
    expect(preflight.headers['access-control-allow-headers']).toMatch(/Idempotency-Key/i);
    const get = await request(app).get('/health').set('Origin', ALLOWED);
    expect(get.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(get.headers.vary).toMatch(/Origin/);
    const other = await request(app).get('/health').set('Origin', 'https://evil.example');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    expect(other.headers['access-control-allow-credentials']).toBeUndefined();
    expect(other.headers.vary).toMatch(/Origin/);
  });

  it('when anything answers, then security headers are there, X-Powered-By is not, and API data is no-store', async () => {
    const { app, cookie } = await withCookie();
    for (const res of [await request(app).get('/health'), await request(app).get('/pacientes').set('Cookie', cookie), await request(app).get('/nada')]) {
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['content-security-policy']).toMatch(/default-src 'self'/);
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-powered-by']).toBeUndefined();
    }
    expect((await request(app).get('/pacientes').set('Cookie', cookie)).headers['cache-control']).toBe('no-store');
  });

  it('when a 500 happens, then no stack trace or absolute path reaches the answer', async () => {
    const { app, container, token } = await withCookie();
    container.services.pacientes.list = () => {
      throw new Error(`falhou em ${process.cwd()}/src/x.ts:10`);
    };
    const res = await request(app).get('/pacientes').set(bearer(token));
    expect(res.status).toBe(500);
    expect(res.text).not.toContain(process.cwd());
    expect(res.text).not.toMatch(/at \w+ \(/);
  });
});

describe('write rate limit', () => {
  it('when a session writes more than WRITE_RATE_LIMIT times in a minute, then 429 with Retry-After; another session still writes; a minute later it may again', async () => {
    const { app, container, token } = await withCookie({ WRITE_RATE_LIMIT: '3' });
    const write = (t: string, crm: string) => request(app).post('/medicos').set(bearer(t)).send(medicoBody({ crm }));
    for (const crm of ['1001/SP', '1002/SP', '1003/SP']) await write(token, crm).expect(201);
    const limited = await write(token, '1004/SP');
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ type: '/problemas/muitas-requisicoes' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Reads are not writes.
    await request(app).get('/medicos').set(bearer(token)).expect(200);
    const other = await signIn(container, 'recepcao');
    await write(other.token, '1005/SP').expect(201);
    (container.clock as unknown as { advance(ms: number): void }).advance(61_000);
    await write(token, '1006/SP').expect(201);
  });
});

describe('a médico user sees only its own', () => {
  it('when a médico user reads agendas, consultas and pacientes, then only its own médico\'s; others are 403, and its stream is filtered', async () => {
    const { app, container } = await makeApp();
    const { medicos, pacientes } = await clinic(app, { medicos: 2, pacientes: 2 });
    const [mine, other] = medicos as [string, string];
    const seen = await agendar(app, { medicoId: mine, pacienteId: pacientes[0], inicio: at('08:00') }).expect(201);
    const notMine = await agendar(app, { medicoId: other, pacienteId: pacientes[1], inicio: at('08:00') }).expect(201);
    const { token } = await signIn(container, 'medico', mine);
    const as = bearer(token);

    await request(app).get(`/medicos/${mine}/agenda`).query({ data: '2026-12-07' }).set(as).expect(200);
    expect((await request(app).get(`/medicos/${other}/agenda`).query({ data: '2026-12-07' }).set(as)).status).toBe(403);
    const list = await request(app).get('/consultas').set(as).expect(200);
    expect(list.body.items.map((c: { id: string }) => c.id)).toEqual([seen.body.id]);
    expect((await request(app).get('/consultas').query({ medicoId: other }).set(as)).status).toBe(403);
    expect((await request(app).get(`/consultas/${notMine.body.id}`).set(as)).status).toBe(403);
    expect((await request(app).post(`/consultas/${notMine.body.id}/cancelar`).set(as).send({})).status).toBe(403);
    expect((await agendar(app, { medicoId: other, pacienteId: pacientes[0], inicio: at('09:00') }, as)).status).toBe(403);
    await agendar(app, { medicoId: mine, pacienteId: pacientes[0], inicio: at('09:00') }, as).expect(201);
    const ps = await request(app).get('/pacientes').set(as).expect(200);
    expect(ps.body.items.map((p: { id: string }) => p.id)).toEqual([pacientes[0]]);
    expect((await request(app).get(`/pacientes/${pacientes[1]}`).set(as)).status).toBe(403);
    expect((await request(app).post('/pacientes').set(as).send({})).status).toBe(403);

    // Its stream carries only its médico's events, whatever filter it asks for.
    const server = await listen(app);
    const stream = await openStream(`${server.url}/sistema/agenda/stream?medicoId=${other}`, as);
    await agendar(app, { medicoId: other, pacienteId: pacientes[1], inicio: at('10:00') }).expect(201);
    await agendar(app, { medicoId: mine, pacienteId: pacientes[1], inicio: at('11:00') }).expect(201);
    await stream.until(() => stream.messages.some((m) => m.event === 'horario_ocupado'));
    expect(stream.messages.every((m) => JSON.parse(m.data).medicoId === mine)).toBe(true);
    stream.close();
    await server.close();
  });

  it('when tasks are read by id, then a médico sees only its own médico\'s bookings and only an admin sees backups and reports (404 otherwise)', async () => {
    const { app, container } = await makeApp();
    const { medicos, pacientes } = await clinic(app, { medicos: 2, pacientes: 2 });
    const [mine, other] = medicos as [string, string];
    const async = { Prefer: 'respond-async' };
    const taskOf = async (res: request.Response) => {
      expect(res.status).toBe(202);
      return String(res.headers['location']).split('/').pop()!;
    };
    const own = await taskOf(await agendar(app, { medicoId: mine, pacienteId: pacientes[0], inicio: at('08:00') }, async));
    const others = await taskOf(await agendar(app, { medicoId: other, pacienteId: pacientes[1], inicio: at('08:00') }, async));
    const backup = (await request(app).post('/sistema/tasks/backup').expect(202)).body.id as string;
    const report = (await request(app).post('/sistema/tasks/relatorio').send({}).expect(202)).body.id as string;
    const medico = bearer((await signIn(container, 'medico', mine)).token);
    const recepcao = bearer((await signIn(container, 'recepcao')).token);
    const read = (id: string, as?: Record<string, string>) => (as ? request(app).get(`/sistema/tasks/${id}`).set(as) : request(app).get(`/sistema/tasks/${id}`));

    const ownTask = await read(own, medico).expect(200);
    expect(ownTask.body).toMatchObject({ id: own, tipo: 'agendar_consulta', medicoId: mine });
    for (const id of [others, backup, report]) {
      const refused = await read(id, medico);
      expect(refused.status, id).toBe(404);
      expect(refused.body).toMatchObject({ type: '/problemas/nao-encontrado', detail: 'Tarefa não encontrada.' });
    }
    for (const id of [own, others]) await read(id, recepcao).expect(200);
    for (const id of [backup, report]) expect((await read(id, recepcao)).status).toBe(404);
    for (const id of [own, others, backup, report]) await read(id).expect(200);
  });
});
