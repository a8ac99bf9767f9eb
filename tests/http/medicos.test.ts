import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { makeApp, medicoBody } from '../helpers/app.js';
import type { ConsultaRecord } from '../../src/repositories/port.js';

const PROBLEM = /application\/problem\+json/;

describe('POST /medicos', () => {
  it('when the body is valid, then 201 with Location, server fields and defaults', async () => {
    const { app } = await makeApp();
    const res = await request(app).post('/medicos').send(medicoBody({ duracaoConsultaMin: undefined, crm: '1234/rj' }));
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/medicos/${res.body.id}`);
    expect(res.body).toMatchObject({
      nome: 'Ana Souza',
      crm: '1234/RJ',
      duracaoConsultaMin: 30,
      ativo: true,
      criadoEm: '2026-11-30T12:00:00-03:00',
      atualizadoEm: '2026-11-30T12:00:00-03:00',
    });
    expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('when optional contacts are left out, then they come back as null', async () => {
    const { app } = await makeApp();
    const res = await request(app).post('/medicos').send(medicoBody({ email: undefined, telefone: undefined, horarios: undefined }));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ email: null, telefone: null, horarios: [] });
  });

  it.each([
    ['CRM without UF', { crm: '123456' }, 'crm'],
    ['CRM with 3 digits', { crm: '123/SP' }, 'crm'],
    ['CRM with 8 digits', { crm: '12345678/SP' }, 'crm'],
    ['CRM with an unknown UF', { crm: '123456/XX' }, 'crm'],
    ['duration below 5', { duracaoConsultaMin: 4 }, 'duracaoConsultaMin'],
    ['duration above 240', { duracaoConsultaMin: 241 }, 'duracaoConsultaMin'],
    ['duration not an integer', { duracaoConsultaMin: 30.5 }, 'duracaoConsultaMin'],
    ['weekday 7', { horarios: [{ diaSemana: 7, inicio: '08:00', fim: '09:00' }] }, 'horarios.0.diaSemana'],
    ['start after end', { horarios: [{ diaSemana: 1, inicio: '10:00', fim: '09:00' }] }, 'horarios.0.fim'],
    // v2: an interval may end at 24:00 (runs to midnight), but not start there nor end past it.
    ['start 24:00', { horarios: [{ diaSemana: 1, inicio: '24:00', fim: '24:00' }] }, 'horarios.0.inicio'],
    ['end 24:30', { horarios: [{ diaSemana: 1, inicio: '08:00', fim: '24:30' }] }, 'horarios.0.fim'],
    [
      'overlapping intervals of one day',
      { horarios: [{ diaSemana: 2, inicio: '08:00', fim: '12:00' }, { diaSemana: 2, inicio: '11:00', fim: '13:00' }] },
      'horarios.1',
    ],
    ['bad e-mail', { email: 'not-an-email' }, 'email'],
    ['bad phone', { telefone: '12' }, 'telefone'],
    ['missing name', { nome: undefined }, 'nome'],
    ['ativo as string', { ativo: 'sim' }, 'ativo'],
  ])('when %s, then 400 naming the field', async (_case, overrides, path) => {
    const { app } = await makeApp();
    const res = await request(app).post('/medicos').send(medicoBody(overrides));
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body).toMatchObject({ type: '/problemas/validacao', status: 400, instance: '/medicos' });
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
  });

  it('when intervals of one day only touch, then they are accepted', async () => {
    const { app } = await makeApp();
    const horarios = [
      { diaSemana: 2, inicio: '08:00', fim: '12:00' },
      { diaSemana: 2, inicio: '12:00', fim: '13:00' },
      { diaSemana: 3, inicio: '08:00', fim: '12:00' },
    ];
    expect((await request(app).post('/medicos').send(medicoBody({ horarios }))).status).toBe(201);
  });

  it('when the CRM is already registered, then 409', async () => {
    const { app } = await makeApp();
    await request(app).post('/medicos').send(medicoBody()).expect(201);
    const res = await request(app).post('/medicos').send(medicoBody({ nome: 'Outra Pessoa', crm: '123456/sp' }));
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ type: '/problemas/crm-duplicado', status: 409, errors: [{ path: 'crm' }] });
  });

  it('when 20 requests race to register one CRM, then exactly one wins', async () => {
    const { app } = await makeApp();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => request(app).post('/medicos').send(medicoBody({ nome: `Médico ${i}` }))),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(19);
  });
});

describe('GET /medicos', () => {
  async function seeded() {
    const t = await makeApp();
    const post = (o: Record<string, unknown>) => request(t.app).post('/medicos').send(medicoBody(o)).expect(201);
    await post({ nome: 'José Araújo', crm: '1111/SP', especialidade: 'Pediatria' });
    await post({ nome: 'Ana Souza', crm: '2222/SP', especialidade: 'Cardiologia' });
    await post({ nome: 'Joana Ávila', crm: '3333/SP', especialidade: 'Cardiologia', ativo: false });
    return t;
  }

  it('when listing, then items come sorted by name with total, limit and offset', async () => {
    const { app } = await seeded();
    const res = await request(app).get('/medicos').expect(200);
    expect(res.body.items.map((m: { nome: string }) => m.nome)).toEqual(['Ana Souza', 'Joana Ávila', 'José Araújo']);
    expect(res.body).toMatchObject({ total: 3, limit: 50, offset: 0 });
  });

  it('when q is given, then names match ignoring case and accents', async () => {
    const { app } = await seeded();
    const res = await request(app).get('/medicos').query({ q: 'ARAUJO' }).expect(200);
    expect(res.body.items.map((m: { nome: string }) => m.nome)).toEqual(['José Araújo']);
    const jo = await request(app).get('/medicos').query({ q: 'jó' }).expect(200);
    expect(jo.body.total).toBe(2);
  });

  it('when filtering by especialidade and ativo, then only matches return', async () => {
    const { app } = await seeded();
    const res = await request(app).get('/medicos').query({ especialidade: 'cardiologia', ativo: 'true' }).expect(200);
    expect(res.body.items.map((m: { nome: string }) => m.nome)).toEqual(['Ana Souza']);
    const inactive = await request(app).get('/medicos').query({ ativo: 'false' }).expect(200);
    expect(inactive.body.items.map((m: { nome: string }) => m.nome)).toEqual(['Joana Ávila']);
  });

  it('when paginating, then limit and offset cut the sorted list', async () => {
    const { app } = await seeded();
    const res = await request(app).get('/medicos').query({ limit: 1, offset: 1 }).expect(200);
    expect(res.body).toMatchObject({ total: 3, limit: 1, offset: 1 });
    expect(res.body.items.map((m: { nome: string }) => m.nome)).toEqual(['Joana Ávila']);
  });

  it.each([
    [{ limit: 0 }, 'limit'],
    [{ limit: 501 }, 'limit'],
    [{ limit: 'dez' }, 'limit'],
    [{ offset: -1 }, 'offset'],
    [{ ativo: 'talvez' }, 'ativo'],
  ])('when the query is %o, then 400 naming %s', async (query, path) => {
    const { app } = await makeApp();
    const res = await request(app).get('/medicos').query(query);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ type: '/problemas/validacao', errors: [{ path }] });
  });
});

describe('GET, PUT, DELETE /medicos/{id}', () => {
  it('when the id exists, then GET returns it', async () => {
    const { app } = await makeApp();
    const created = await request(app).post('/medicos').send(medicoBody()).expect(201);
    const res = await request(app).get(`/medicos/${created.body.id}`).expect(200);
    expect(res.body).toEqual(created.body);
  });

  it.each(['/medicos/00000000-0000-4000-8000-000000000000', '/medicos/nao-e-um-uuid'])(
    'when the id %s is unknown, then GET, PUT and DELETE answer 404',
    async (url) => {
      const { app } = await makeApp();
      for (const res of [
        await request(app).get(url),
        await request(app).put(url).send(medicoBody()),
        await request(app).delete(url),
      ]) {
        expect(res.status).toBe(404);
        expect(res.headers['content-type']).toMatch(PROBLEM);
        expect(res.body).toMatchObject({ type: '/problemas/nao-encontrado', status: 404, instance: url });
      }
    },
  );

  it('when PUT replaces, then editable fields change and id and criadoEm stay', async () => {
    const { app } = await makeApp();
    const created = await request(app).post('/medicos').send(medicoBody()).expect(201);
    const res = await request(app)
      .put(`/medicos/${created.body.id}`)
      .send(medicoBody({ nome: 'Ana Souza Lima', email: undefined, ativo: false, horarios: [] }))
      .expect(200);
    expect(res.body).toMatchObject({ id: created.body.id, nome: 'Ana Souza Lima', email: null, ativo: false, horarios: [] });
    expect(res.body.criadoEm).toBe(created.body.criadoEm);
  });

  it('when PUT takes another médico\'s CRM, then 409; keeping its own CRM is fine', async () => {
    const { app } = await makeApp();
    const a = await request(app).post('/medicos').send(medicoBody()).expect(201);
    await request(app).post('/medicos').send(medicoBody({ crm: '9999/SP' })).expect(201);
    await request(app).put(`/medicos/${a.body.id}`).send(medicoBody({ nome: 'Ana S.' })).expect(200);
    const res = await request(app).put(`/medicos/${a.body.id}`).send(medicoBody({ crm: '9999/SP' }));
    expect(res.status).toBe(409);
    expect(res.body.type).toBe('/problemas/crm-duplicado');
  });

  it('when PUT has an invalid body, then 400 and nothing changes', async () => {
    const { app } = await makeApp();
    const a = await request(app).post('/medicos').send(medicoBody()).expect(201);
    await request(app).put(`/medicos/${a.body.id}`).send(medicoBody({ duracaoConsultaMin: 1 })).expect(400);
    expect((await request(app).get(`/medicos/${a.body.id}`)).body).toEqual(a.body);
  });

  it('when DELETE succeeds, then 204 and the médico is gone', async () => {
    const { app } = await makeApp();
    const a = await request(app).post('/medicos').send(medicoBody()).expect(201);
    const res = await request(app).delete(`/medicos/${a.body.id}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    await request(app).get(`/medicos/${a.body.id}`).expect(404);
  });

  it('when any consulta refers to the médico (past, cancelled or future), then DELETE answers 409 and keeps it', async () => {
    const { app, container } = await makeApp();
    const a = await request(app).post('/medicos').send(medicoBody()).expect(201);
    // Consultas arrive with the scheduling issue; until then the guard is proven on a stored record.
    const consulta = (inicio: string, status: string) =>
      ({ id: `c-${inicio}-${status}`, medicoId: a.body.id, pacienteId: 'p', inicio, fim: inicio, status }) as unknown as ConsultaRecord;
    await container.storage.run(async (tx) => {
      await tx.consultas.save(consulta('2026-11-01T09:00:00-03:00', 'agendada')); // past
      await tx.consultas.save(consulta('2026-12-10T09:00:00-03:00', 'cancelada')); // future but cancelled
    });
    expect((await request(app).delete(`/medicos/${a.body.id}`)).status).toBe(409);
    const free = await request(app).post('/medicos').send(medicoBody({ crm: '99887/SP' })).expect(201);
    await request(app).delete(`/medicos/${free.body.id}`).expect(204);

    const b = await request(app).post('/medicos').send(medicoBody({ crm: '55443/RJ' })).expect(201);
    const future = { ...consulta('2026-12-10T09:00:00-03:00', 'agendada'), medicoId: b.body.id as string };
    await container.storage.run((tx) => tx.consultas.save(future));
    const res = await request(app).delete(`/medicos/${b.body.id}`);
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ type: '/problemas/exclusao-bloqueada', status: 409 });
    await request(app).get(`/medicos/${b.body.id}`).expect(200);
  });
});
