import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { TEST_NOW, makeApp, medicoBody } from '../helpers/app.js';
import { describeEachDriver } from '../helpers/drivers.js';
import { agendar, at, clinic } from '../helpers/scheduling.js';

async function estado(app: Parameters<typeof agendar>[0], medicoId: string, inicio: string): Promise<string> {
  const res = await request(app).get(`/medicos/${medicoId}/agenda`).query({ data: inicio.slice(0, 10) }).expect(200);
  return res.body.slots.find((s: { inicio: string }) => s.inicio === inicio).estado;
}

describeEachDriver(() => {
  describe('POST /consultas/{id}/cancelar', () => {
    it('when agendada, then 200 cancelada with the reason, and the slot is free again', async () => {
      const { app } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      const c = await agendar(app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
      const res = await request(app).post(`/consultas/${c.body.id}/cancelar`).send({ motivo: 'paciente viajou' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: c.body.id, status: 'cancelada', motivoCancelamento: 'paciente viajou' });
      expect(await estado(app, medicoId, at('08:00'))).toBe('disponivel');
      // and can be booked again
      await agendar(app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
    });

    it('when there is no body, then it cancels without a reason', async () => {
      const { app } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      const c = await agendar(app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
      const res = await request(app).post(`/consultas/${c.body.id}/cancelar`);
      expect(res.status).toBe(200);
      expect(res.body.motivoCancelamento).toBeNull();
    });

    it('when not agendada, then 409; when unknown, then 404', async () => {
      const { app } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      const c = await agendar(app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
      await request(app).post(`/consultas/${c.body.id}/cancelar`).send({}).expect(200);
      const again = await request(app).post(`/consultas/${c.body.id}/cancelar`).send({});
      expect(again.status).toBe(409);
      expect(again.body.type).toBe('/problemas/status-invalido');
      const unknown = await request(app).post('/consultas/00000000-0000-4000-8000-000000000000/cancelar').send({});
      expect(unknown.status).toBe(404);
    });
  });

  describe('POST /consultas/{id}/remarcar', () => {
    it('when the new slot is free, then 200 with the same id at the new time; the old slot frees', async () => {
      const { app } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      const c = await agendar(app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
      const res = await request(app).post(`/consultas/${c.body.id}/remarcar`).send({ inicio: at('14:30') });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: c.body.id, inicio: at('14:30'), fim: at('15:00'), status: 'agendada' });
      expect(await estado(app, medicoId, at('08:00'))).toBe('disponivel');
      expect(await estado(app, medicoId, at('14:30'))).toBe('ocupado');
    });

    it('when the same move is sent again (a retry), then 422 naming inicio and the consulta stays where the first put it', async () => {
      const { app } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      const c = await agendar(app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
      await request(app).post(`/consultas/${c.body.id}/remarcar`).send({ inicio: at('14:30') }).expect(200);
      const again = await request(app).post(`/consultas/${c.body.id}/remarcar`).send({ inicio: at('14:30') });
      expect(again.status).toBe(422);
      expect(again.body).toMatchObject({ type: '/problemas/regra-de-agendamento', errors: [{ path: 'inicio', message: 'Mesmo horário atual.' }] });
      expect((await request(app).get(`/consultas/${c.body.id}`)).body).toMatchObject({ inicio: at('14:30'), status: 'agendada' });
      expect(await estado(app, medicoId, at('14:30'))).toBe('ocupado');
    });

    it('when the new slot is taken, then 409 and the old time is kept', async () => {
      const { app } = await makeApp();
      const { medicoId, pacientes } = await clinic(app, { pacientes: 2 });
      const c = await agendar(app, { medicoId, pacienteId: pacientes[0], inicio: at('08:00') }).expect(201);
      await agendar(app, { medicoId, pacienteId: pacientes[1], inicio: at('09:00') }).expect(201);
      const res = await request(app).post(`/consultas/${c.body.id}/remarcar`).send({ inicio: at('09:00') });
      expect(res.status).toBe(409);
      expect(res.body.type).toBe('/problemas/horario-ocupado');
      expect((await request(app).get(`/consultas/${c.body.id}`)).body.inicio).toBe(at('08:00'));
      expect(await estado(app, medicoId, at('08:00'))).toBe('ocupado');
    });

    it('when the new time breaks a rule, then 422 and the old time is kept', async () => {
      const { app } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      const c = await agendar(app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
      for (const inicio of [at('08:10'), '2026-11-30T08:00:00-03:00', at('08:00')]) {
        const res = await request(app).post(`/consultas/${c.body.id}/remarcar`).send({ inicio });
        expect(res.status).toBe(422);
      }
      expect((await request(app).get(`/consultas/${c.body.id}`)).body.inicio).toBe(at('08:00'));
    });

    it('when the consulta is cancelled, then 409', async () => {
      const { app } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      const c = await agendar(app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
      await request(app).post(`/consultas/${c.body.id}/cancelar`).send({}).expect(200);
      const res = await request(app).post(`/consultas/${c.body.id}/remarcar`).send({ inicio: at('09:00') });
      expect(res.status).toBe(409);
    });

    it('when Prefer: respond-async, then 202 with a remarcar_consulta task', async () => {
      const { app, container } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      const c = await agendar(app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
      const res = await request(app).post(`/consultas/${c.body.id}/remarcar`).set('Prefer', 'respond-async').send({ inicio: at('10:00') });
      expect(res.status).toBe(202);
      expect(res.body.tipo).toBe('remarcar_consulta');
      await container.queue.onIdle();
      expect((await request(app).get(`/consultas/${c.body.id}`)).body.inicio).toBe(at('10:00'));
    });
  });

  describe('PATCH /consultas/{id}', () => {
    it('when the consulta has not started, then 409 status-invalido (v2: one state machine, one answer); once it has, then realizada; then 409', async () => {
      const clock = new ManualClock(TEST_NOW);
      const { app } = await makeApp({ clock });
      const { medicoId, pacienteId } = await clinic(app);
      const c = await agendar(app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
      const early = await request(app).patch(`/consultas/${c.body.id}`).send({ status: 'realizada' });
      expect(early.body).toMatchObject({ status: 409, type: '/problemas/status-invalido' });
      clock.set(new Date('2026-12-07T11:10:00Z'));
      const done = await request(app).patch(`/consultas/${c.body.id}`).send({ status: 'realizada', observacoes: 'retorno em 30 dias' });
      expect(done.status).toBe(200);
      expect(done.body).toMatchObject({ status: 'realizada', observacoes: 'retorno em 30 dias' });
      const again = await request(app).patch(`/consultas/${c.body.id}`).send({ status: 'faltou' });
      expect(again.status).toBe(409);
    });

    it('when the status is not one PATCH can set (cancelada, aguardando and agendada have their own routes or none), then 400', async () => {
      const { app } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      const c = await agendar(app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
      for (const status of ['cancelada', 'agendada', 'aguardando', 'x', undefined]) {
        expect((await request(app).patch(`/consultas/${c.body.id}`).send({ status })).status).toBe(400);
      }
    });
  });

  describe('GET /consultas', () => {
    it('when filtered, then only matching consultas come, sorted by inicio, paged', async () => {
      const { app } = await makeApp();
      const { medicos, pacientes } = await clinic(app, { medicos: 2, pacientes: 2 });
      const book = (m: number, p: number, inicio: string) =>
        agendar(app, { medicoId: medicos[m], pacienteId: pacientes[p], inicio }).expect(201);
      const c1 = await book(0, 0, at('09:00'));
      const c2 = await book(0, 1, at('08:00'));
      const c3 = await book(1, 0, at('10:00'));
      const c4 = await book(1, 1, at('08:00', '2026-12-14'));
      await request(app).post(`/consultas/${c3.body.id}/cancelar`).send({}).expect(200);

      const ids = async (query: Record<string, unknown>) =>
        (await request(app).get('/consultas').query(query).expect(200)).body.items.map((c: { id: string }) => c.id);
      expect(await ids({})).toEqual([c2.body.id, c1.body.id, c3.body.id, c4.body.id]);
      expect(await ids({ medicoId: medicos[0] })).toEqual([c2.body.id, c1.body.id]);
      expect(await ids({ pacienteId: pacientes[0] })).toEqual([c1.body.id, c3.body.id]);
      expect(await ids({ status: 'cancelada' })).toEqual([c3.body.id]);
      expect(await ids({ de: '2026-12-08' })).toEqual([c4.body.id]);
      expect(await ids({ ate: '2026-12-07' })).toEqual([c2.body.id, c1.body.id, c3.body.id]);
      expect(await ids({ de: at('08:30'), ate: at('09:00') })).toEqual([c1.body.id]);
      expect(await ids({ medicoId: medicos[1], status: 'agendada' })).toEqual([c4.body.id]);
      const page = await request(app).get('/consultas').query({ limit: 2, offset: 1 }).expect(200);
      expect(page.body).toMatchObject({ total: 4, limit: 2, offset: 1 });
      expect(page.body.items.map((c: { id: string }) => c.id)).toEqual([c1.body.id, c3.body.id]);
    });

    it('when a filter is malformed, then 400', async () => {
      const { app } = await makeApp();
      for (const query of [{ status: 'feita' }, { de: '07/12/2026' }, { limit: 1000 }]) {
        expect((await request(app).get('/consultas').query(query)).status).toBe(400);
      }
    });

    it('when the consulta is unknown, then 404', async () => {
      const { app } = await makeApp();
      expect((await request(app).get('/consultas/nope')).body).toMatchObject({ status: 404, type: '/problemas/nao-encontrado' });
    });
  });

  describe('delete guards with real consultas', () => {
    it('when a médico or paciente has any consulta, even cancelled, then DELETE is 409 and both stay (v2: no orphaned history)', async () => {
      const { app } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      const c = await agendar(app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
      expect((await request(app).delete(`/medicos/${medicoId}`)).status).toBe(409);
      expect((await request(app).delete(`/pacientes/${pacienteId}`)).status).toBe(409);
      await request(app).post(`/consultas/${c.body.id}/cancelar`).send({}).expect(200);
      expect((await request(app).delete(`/pacientes/${pacienteId}`)).body).toMatchObject({ status: 409, type: '/problemas/exclusao-bloqueada' });
      expect((await request(app).delete(`/medicos/${medicoId}`)).body).toMatchObject({ status: 409, type: '/problemas/exclusao-bloqueada' });
      await request(app).get(`/consultas/${c.body.id}`).expect(200);
      await request(app).get(`/pacientes/${pacienteId}`).expect(200);
    });
  });

  describe('GET /medicos/{id}/agenda', () => {
    it('when asked for a working day, then slots are cut from each interval in the clinic offset', async () => {
      const { app } = await makeApp();
      const { medicoId } = await clinic(app);
      const res = await request(app).get(`/medicos/${medicoId}/agenda`).query({ data: '2026-12-07' }).expect(200);
      expect(res.body.medicoId).toBe(medicoId);
      expect(res.body.timezone).toBe('America/Sao_Paulo');
      expect(res.body.slots).toHaveLength(16);
      expect(res.body.slots[0]).toEqual({ inicio: at('08:00'), fim: at('08:30'), estado: 'disponivel', consultaId: null });
      expect(res.body.slots[8].inicio).toBe(at('14:00'));
      expect(res.body.slots[15].fim).toBe(at('18:00'));
    });

    it('when a remainder is shorter than a slot, then it is dropped', async () => {
      const { app } = await makeApp();
      const m = await request(app)
        .post('/medicos')
        .send(medicoBody({ duracaoConsultaMin: 45, horarios: [{ diaSemana: 1, inicio: '08:00', fim: '12:00' }] }))
        .expect(201);
      const res = await request(app).get(`/medicos/${m.body.id}/agenda`).query({ data: '2026-12-07' }).expect(200);
      expect(res.body.slots.map((s: { inicio: string }) => s.inicio.slice(11, 16))).toEqual(['08:00', '08:45', '09:30', '10:15', '11:00']);
    });

    it('when asked for a range, then every day in it; a day off has none', async () => {
      const { app } = await makeApp();
      const { medicoId } = await clinic(app);
      const week = await request(app).get(`/medicos/${medicoId}/agenda`).query({ de: '2026-12-01', ate: '2026-12-14' }).expect(200);
      expect(week.body.slots).toHaveLength(32); // two Mondays
      const off = await request(app).get(`/medicos/${medicoId}/agenda`).query({ data: '2026-12-08' }).expect(200);
      expect(off.body.slots).toEqual([]);
    });

    it.each([
      [{}, 'data'],
      [{ de: '2026-12-01' }, 'data'],
      [{ de: '2026-12-01', ate: '2027-01-01' }, 'ate'],
      [{ de: '2026-12-10', ate: '2026-12-01' }, 'ate'],
      [{ data: '2026-02-30' }, 'data'],
      [{ data: '2026-12-01', de: '2026-12-01', ate: '2026-12-02' }, 'data'],
    ])('when the query is %o, then 400 naming %s', async (query, path) => {
      const { app } = await makeApp();
      const { medicoId } = await clinic(app);
      const res = await request(app).get(`/medicos/${medicoId}/agenda`).query(query);
      expect(res.status).toBe(400);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    });

    it('when the médico is unknown, then 404', async () => {
      const { app } = await makeApp();
      await request(app).get('/medicos/nope/agenda').query({ data: '2026-12-07' }).expect(404);
    });

    it('when the agenda was read and then something changes, then the next read shows the change', async () => {
      const { app } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      const read = async () => (await request(app).get(`/medicos/${medicoId}/agenda`).query({ data: '2026-12-07' }).expect(200)).body.slots;
      expect(await read()).toHaveLength(16);
      const c = await agendar(app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
      expect((await read())[0].estado).toBe('ocupado');
      await request(app).post(`/consultas/${c.body.id}/cancelar`).send({}).expect(200);
      expect((await read())[0].estado).toBe('disponivel');
      await request(app).put(`/medicos/${medicoId}`).send(medicoBody({ crm: '1000/SP', duracaoConsultaMin: 60 })).expect(200);
      expect(await read()).toHaveLength(8);
    });
  });
});
