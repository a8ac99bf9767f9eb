import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { isValidCpf } from '../../src/schemas/paciente.schema.js';
import { makeApp, pacienteBody } from '../helpers/app.js';

describe('CPF check digits', () => {
  it.each(['52998224725', '11144477735', '39053344705'])('when %s has valid check digits, then it is valid', (cpf) => {
    expect(isValidCpf(cpf)).toBe(true);
  });
  it.each(['52998224726', '52998224715', '00000000000', '99999999999', '1234567890', 'abcdefghijk'])(
    'when %s is wrong, then it is refused',
    (cpf) => expect(isValidCpf(cpf)).toBe(false),
  );
});

describe('POST /pacientes', () => {
  it('when the CPF has punctuation, then it is stored and returned as 11 digits', async () => {
    const { app } = await makeApp();
    const res = await request(app).post('/pacientes').send(pacienteBody());
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/pacientes/${res.body.id}`);
    expect(res.body).toMatchObject({
      nome: 'João Lima',
      cpf: '52998224725',
      dataNascimento: '1990-05-12',
      email: 'joao@example.com',
      telefone: '+55 21 99876-5432',
      criadoEm: '2026-11-30T12:00:00-03:00',
    });
  });

  it.each([
    ['wrong check digit', { cpf: '529.982.247-26' }, 'cpf', 'CPF inválido.'],
    ['all-equal digits', { cpf: '111.111.111-11' }, 'cpf', 'CPF inválido.'],
    ['10 digits', { cpf: '5299822472' }, 'cpf', undefined],
    ['mixed punctuation', { cpf: '529982.247-25' }, 'cpf', undefined],
    ['birth before 1900', { dataNascimento: '1899-12-31' }, 'dataNascimento', undefined],
    ['a date that does not exist', { dataNascimento: '2001-02-29' }, 'dataNascimento', undefined],
    ['a date in another format', { dataNascimento: '12/05/1990' }, 'dataNascimento', undefined],
    ['birth date in the future', { dataNascimento: '2026-12-01' }, 'dataNascimento', 'Data de nascimento no futuro.'],
    ['a number for nome', { nome: 42 }, 'nome', undefined],
  ])('when %s, then 400 naming the field', async (_case, overrides, path, message) => {
    const { app } = await makeApp();
    const res = await request(app).post('/pacientes').send(pacienteBody(overrides));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ type: '/problemas/validacao', status: 400 });
    const error = res.body.errors.find((e: { path: string }) => e.path === path);
    expect(error).toBeDefined();
    if (message) expect(error.message).toBe(message);
  });

  it('when born today, then accepted', async () => {
    const { app } = await makeApp();
    await request(app).post('/pacientes').send(pacienteBody({ dataNascimento: '2026-11-30' })).expect(201);
  });

  it('when the CPF is taken (in any format), then 409', async () => {
    const { app } = await makeApp();
    await request(app).post('/pacientes').send(pacienteBody()).expect(201);
    const res = await request(app).post('/pacientes').send(pacienteBody({ nome: 'Outro', cpf: '52998224725' }));
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ type: '/problemas/cpf-duplicado', errors: [{ path: 'cpf' }] });
  });
});

describe('GET /pacientes', () => {
  it('when filtering by q or cpf, then only matches return', async () => {
    const { app } = await makeApp();
    await request(app).post('/pacientes').send(pacienteBody()).expect(201);
    await request(app).post('/pacientes').send(pacienteBody({ nome: 'Lúcia Gonçalves', cpf: '39053344705' })).expect(201);
    const byName = await request(app).get('/pacientes').query({ q: 'GONCALVES' }).expect(200);
    expect(byName.body.items.map((p: { nome: string }) => p.nome)).toEqual(['Lúcia Gonçalves']);
    const byCpf = await request(app).get('/pacientes').query({ cpf: '529.982.247-25' }).expect(200);
    expect(byCpf.body).toMatchObject({ total: 1, items: [{ nome: 'João Lima' }] });
    const all = await request(app).get('/pacientes').expect(200);
    expect(all.body.items.map((p: { nome: string }) => p.nome)).toEqual(['João Lima', 'Lúcia Gonçalves']);
  });

  it('when the cpf filter is malformed, then 400', async () => {
    const { app } = await makeApp();
    const res = await request(app).get('/pacientes').query({ cpf: '123' });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].path).toBe('cpf');
  });
});

describe('GET, PUT, DELETE /pacientes/{id}', () => {
  it('when PUT changes the CPF to one in use, then 409; to a free one, then 200', async () => {
    const { app } = await makeApp();
    const a = await request(app).post('/pacientes').send(pacienteBody()).expect(201);
    await request(app).post('/pacientes').send(pacienteBody({ cpf: '39053344705' })).expect(201);
    const clash = await request(app).put(`/pacientes/${a.body.id}`).send(pacienteBody({ cpf: '39053344705' }));
    expect(clash.status).toBe(409);
    const ok = await request(app).put(`/pacientes/${a.body.id}`).send(pacienteBody({ cpf: '11144477735', email: null }));
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ id: a.body.id, cpf: '11144477735', email: null, criadoEm: a.body.criadoEm });
    // The old CPF is free again.
    await request(app).post('/pacientes').send(pacienteBody()).expect(201);
  });

  it('when the id is unknown, then 404', async () => {
    const { app } = await makeApp();
    const url = '/pacientes/00000000-0000-4000-8000-000000000000';
    expect((await request(app).get(url)).body).toMatchObject({ type: '/problemas/nao-encontrado', status: 404 });
    expect((await request(app).put(url).send(pacienteBody())).status).toBe(404);
    expect((await request(app).delete(url)).status).toBe(404);
  });

  it('when the paciente has a future agendada consulta, then DELETE answers 409; otherwise 204', async () => {
    const { app, container } = await makeApp();
    const a = await request(app).post('/pacientes').send(pacienteBody()).expect(201);
    await container.storage.run((tx) =>
      tx.consultas.save({
        id: 'c1', medicoId: 'm', pacienteId: a.body.id, inicio: '2026-12-02T10:00:00-03:00', fim: '2026-12-02T10:30:00-03:00', status: 'agendada',
      } as never),
    );
    const res = await request(app).delete(`/pacientes/${a.body.id}`);
    expect(res.status).toBe(409);
    expect(res.body.type).toBe('/problemas/exclusao-bloqueada');
    await container.storage.run((tx) => tx.consultas.remove('c1'));
    await request(app).delete(`/pacientes/${a.body.id}`).expect(204);
    await request(app).get(`/pacientes/${a.body.id}`).expect(404);
  });
});
