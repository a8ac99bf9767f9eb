import request from 'supertest';
import { describe, expect, it } from 'vitest';
import type { ScheduleEvent } from '../../src/domain/schedule-state.js';
import { makeApp, medicoBody } from '../helpers/app.js';
import { agendar, at, clinic } from '../helpers/scheduling.js';

type App = Awaited<ReturnType<typeof makeApp>>['app'];

async function agenda(app: App, medicoId: string, data = '2026-12-07') {
  return (await request(app).get(`/medicos/${medicoId}/agenda`).query({ data }).expect(200)).body as {
    slots: { inicio: string; estado: string; consultaId: string | null }[];
    encaixes?: { inicio: string; fim: string; consultaId: string }[];
  };
}
const slotAt = async (app: App, medicoId: string, inicio: string) => (await agenda(app, medicoId)).slots.find((s) => s.inicio === inicio)!;

describe('Idempotency-Key replays an early refusal', () => {
  it('when the first attempt got 409 from the early check and the slot then frees, then the retry still gets that 409 and books nothing', async () => {
    const { app } = await makeApp();
    const { medicoId, pacientes } = await clinic(app, { pacientes: 2 });
    const other = await agendar(app, { medicoId, pacienteId: pacientes[0], inicio: at('08:00') }).expect(201);
    const body = { medicoId, pacienteId: pacientes[1], inicio: at('08:00') };
    const first = await agendar(app, body, { 'Idempotency-Key': 'cedo' });
    expect(first.body).toMatchObject({ status: 409, type: '/problemas/horario-ocupado' });
    await request(app).post(`/consultas/${other.body.id}/cancelar`).send({}).expect(200);
    expect((await slotAt(app, medicoId, at('08:00'))).estado).toBe('disponivel');

    const retry = await agendar(app, body, { 'Idempotency-Key': 'cedo' });
    expect(retry.status).toBe(409);
    expect(retry.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(retry.body).toEqual(first.body);
    const list = await request(app).get('/consultas').query({ pacienteId: pacientes[1] }).expect(200);
    expect(list.body.total).toBe(0);
    expect((await slotAt(app, medicoId, at('08:00'))).estado).toBe('disponivel');
    // Without the key, the same body books: the refusal was remembered for the key only.
    await agendar(app, body).expect(201);
  });

  it('when the first attempt got 422 (médico inactive) and the médico is then activated, then the retry replays the 422', async () => {
    const { app } = await makeApp();
    const { medicoId, pacienteId } = await clinic(app);
    await request(app).put(`/medicos/${medicoId}`).send(medicoBody({ crm: '1000/SP', ativo: false })).expect(200);
    const body = { medicoId, pacienteId, inicio: at('09:00') };
    const first = await agendar(app, body, { 'Idempotency-Key': 'inativo' });
    expect(first.body).toMatchObject({ status: 422, type: '/problemas/regra-de-agendamento' });
    await request(app).put(`/medicos/${medicoId}`).send(medicoBody({ crm: '1000/SP', ativo: true })).expect(200);
    const retry = await agendar(app, body, { 'Idempotency-Key': 'inativo' });
    expect(retry.status).toBe(422);
    expect(retry.body).toEqual(first.body);
    expect((await request(app).get('/consultas').expect(200)).body.total).toBe(0);
  });
});

describe('instants finer than a millisecond', () => {
  it('when inicio carries a non-zero part below the millisecond, then 400 naming inicio and nothing is booked; zeros there are fine', async () => {
    const { app } = await makeApp();
    const { medicoId, pacienteId } = await clinic(app);
    for (const inicio of ['2026-12-07T11:00:00.000000001Z', '2026-12-07T11:00:00.0001Z']) {
      const res = await agendar(app, { medicoId, pacienteId, inicio });
      expect(res.status).toBe(400);
      expect(res.body.errors).toContainEqual({ path: 'inicio', message: 'Use no máximo milissegundos (frações menores que 1 ms não são aceitas).' });
    }
    expect((await request(app).get('/consultas').expect(200)).body.total).toBe(0);
    await agendar(app, { medicoId, pacienteId, inicio: '2026-12-07T11:00:00.000000Z' }).expect(201);
  });
});

describe('booking horizon (AGENDA_HORIZONTE_DIAS)', () => {
  it('when inicio is more than 365 days ahead, then 422 naming inicio; within it, then 201', async () => {
    const { app } = await makeApp();
    const { medicoId, pacienteId } = await clinic(app);
    // The test clock is Monday 2026-11-30 12:00: 2027-11-29 is 364 days ahead, 2027-12-06 is 371.
    await agendar(app, { medicoId, pacienteId, inicio: at('08:00', '2027-11-29') }).expect(201);
    for (const inicio of [at('08:00', '2027-12-06'), '2999-12-27T08:00:00-03:00']) {
      const res = await agendar(app, { medicoId, pacienteId, inicio });
      expect(res.body).toMatchObject({ status: 422, type: '/problemas/regra-de-agendamento' });
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain('inicio');
    }
  });

  it('when AGENDA_HORIZONTE_DIAS=30, then 31 days ahead is 422, for remarcar and encaixe too', async () => {
    const { app } = await makeApp({ env: { AGENDA_HORIZONTE_DIAS: '30' } });
    const { medicoId, pacienteId } = await clinic(app);
    const c = await agendar(app, { medicoId, pacienteId, inicio: at('08:00', '2026-12-28') }).expect(201);
    const far = at('08:00', '2027-01-04');
    expect((await agendar(app, { medicoId, pacienteId, inicio: far })).status).toBe(422);
    expect((await request(app).post(`/consultas/${c.body.id}/remarcar`).send({ inicio: far })).status).toBe(422);
    expect((await agendar(app, { medicoId, pacienteId, inicio: at('08:10', '2027-01-04'), encaixe: true })).status).toBe(422);
  });
});

describe('encaixe (squeeze-in)', () => {
  it('when squeezed over an occupied slot, then 201 with encaixe: true and its own fim; the slot keeps its holder and events', async () => {
    const { app, container } = await makeApp();
    const { medicoId, pacientes } = await clinic(app, { pacientes: 2 });
    const regular = await agendar(app, { medicoId, pacienteId: pacientes[0], inicio: at('08:00') }).expect(201);
    const events: ScheduleEvent[] = [];
    container.schedule.subscribe((e) => events.push(e));

    const res = await agendar(app, { medicoId, pacienteId: pacientes[1], inicio: at('08:10'), encaixe: true, duracaoMin: 20 });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/consultas/${res.body.id}`);
    expect(res.body).toMatchObject({ inicio: at('08:10'), fim: at('08:30'), status: 'agendada', encaixe: true, chegouEm: null });
    // Encaixes never change slot states: no horario_* event, one consulta_status for live screens.
    expect(events.map((e) => e.type)).toEqual(['consulta_status']);
    expect(events[0]).toMatchObject({ consultaId: res.body.id, status: 'agendada', encaixe: true, medicoId });

    expect(await slotAt(app, medicoId, at('08:00'))).toMatchObject({ estado: 'ocupado', consultaId: regular.body.id });
    expect((await agenda(app, medicoId)).encaixes).toEqual([{ inicio: at('08:10'), fim: at('08:30'), consultaId: res.body.id }]);
    // Cancelling the encaixe does not free the regular slot.
    await request(app).post(`/consultas/${res.body.id}/cancelar`).send({}).expect(200);
    expect(await slotAt(app, medicoId, at('08:00'))).toMatchObject({ estado: 'ocupado', consultaId: regular.body.id });
  });

  it('when squeezed into a free slot, then the slot stays disponivel and can still be booked', async () => {
    const { app } = await makeApp();
    const { medicoId, pacientes } = await clinic(app, { pacientes: 2 });
    await agendar(app, { medicoId, pacienteId: pacientes[0], inicio: at('09:05'), encaixe: true }).expect(201);
    expect((await slotAt(app, medicoId, at('09:00'))).estado).toBe('disponivel');
    await agendar(app, { medicoId, pacienteId: pacientes[1], inicio: at('09:00') }).expect(201);
  });

  it('when the médico has maxEncaixesDia encaixes that day, then the next is 422; another day, or after a cancel, it books', async () => {
    const { app } = await makeApp();
    const { medicoId, pacienteId } = await clinic(app);
    const e1 = await agendar(app, { medicoId, pacienteId, inicio: at('08:05'), encaixe: true }).expect(201);
    await agendar(app, { medicoId, pacienteId, inicio: at('10:05'), encaixe: true }).expect(201);
    const third = await agendar(app, { medicoId, pacienteId, inicio: at('15:05'), encaixe: true });
    expect(third.body).toMatchObject({ status: 422, type: '/problemas/regra-de-agendamento' });
    expect(third.body.errors[0].path).toBe('encaixe');
    await agendar(app, { medicoId, pacienteId, inicio: at('15:05', '2026-12-14'), encaixe: true }).expect(201);
    await request(app).post(`/consultas/${e1.body.id}/cancelar`).send({}).expect(200);
    await agendar(app, { medicoId, pacienteId, inicio: at('15:05'), encaixe: true }).expect(201);
  });

  it('when maxEncaixesDia is 0, then no encaixe books; the field defaults to 2 and is returned', async () => {
    const { app } = await makeApp();
    const m = await request(app).post('/medicos').send(medicoBody({ crm: '2000/SP', maxEncaixesDia: 0 })).expect(201);
    expect(m.body.maxEncaixesDia).toBe(0);
    const { medicoId, pacienteId } = await clinic(app);
    expect((await request(app).get(`/medicos/${medicoId}`).expect(200)).body.maxEncaixesDia).toBe(2);
    expect((await agendar(app, { medicoId: m.body.id, pacienteId, inicio: at('08:05'), encaixe: true })).status).toBe(422);
  });

  it('when the paciente has a consulta at that time, then 409 conflito-paciente, with any médico', async () => {
    const { app } = await makeApp();
    const { medicos, pacienteId } = await clinic(app, { medicos: 2 });
    await agendar(app, { medicoId: medicos[0], pacienteId, inicio: at('08:00') }).expect(201);
    const res = await agendar(app, { medicoId: medicos[1], pacienteId, inicio: at('08:20'), encaixe: true });
    expect(res.body).toMatchObject({ status: 409, type: '/problemas/conflito-paciente' });
    // And a regular booking over an encaixe of the same paciente is refused the same way.
    await agendar(app, { medicoId: medicos[1], pacienteId, inicio: at('10:10'), encaixe: true }).expect(201);
    expect((await agendar(app, { medicoId: medicos[0], pacienteId, inicio: at('10:00') })).body.type).toBe('/problemas/conflito-paciente');
  });

  it.each([
    ['ending after the working interval', { inicio: at('11:50'), duracaoMin: 15 }, 422],
    ['between intervals (lunch)', { inicio: at('12:30') }, 422],
    ['on a day off', { inicio: at('09:00', '2026-12-08') }, 422],
    ['not on a whole minute', { inicio: '2026-12-07T08:10:30-03:00' }, 422],
    ['longer than 60 minutes', { inicio: at('08:10'), duracaoMin: 61 }, 400],
    ['shorter than 5 minutes', { inicio: at('08:10'), duracaoMin: 4 }, 400],
  ])('when %s, then %i', async (_name, fields, status) => {
    const { app } = await makeApp();
    const { medicoId, pacienteId } = await clinic(app);
    expect((await agendar(app, { medicoId, pacienteId, encaixe: true, ...fields })).status).toBe(status);
  });

  it('when it fills its interval to the end, then 201 (11:45 + 15 min ends at 12:00)', async () => {
    const { app } = await makeApp();
    const { medicoId, pacienteId } = await clinic(app);
    const res = await agendar(app, { medicoId, pacienteId, inicio: at('11:45'), encaixe: true }).expect(201);
    expect(res.body.fim).toBe(at('12:00'));
  });

  it('when duracaoMin comes without encaixe, then 400', async () => {
    const { app } = await makeApp();
    const { medicoId, pacienteId } = await clinic(app);
    expect((await agendar(app, { medicoId, pacienteId, inicio: at('08:00'), duracaoMin: 15 })).status).toBe(400);
  });

  it('when an encaixe is remarcado, then 422 (cancel it and squeeze in another)', async () => {
    const { app } = await makeApp();
    const { medicoId, pacienteId } = await clinic(app);
    const e = await agendar(app, { medicoId, pacienteId, inicio: at('08:05'), encaixe: true }).expect(201);
    expect((await request(app).post(`/consultas/${e.body.id}/remarcar`).send({ inicio: at('09:00') })).status).toBe(422);
  });

  it('when retried with its Idempotency-Key, then the same encaixe; the key with a regular body is a conflict', async () => {
    const { app } = await makeApp();
    const { medicoId, pacienteId } = await clinic(app);
    const body = { medicoId, pacienteId, inicio: at('08:05'), encaixe: true };
    const first = await agendar(app, body, { 'Idempotency-Key': 'enc' }).expect(201);
    expect((await agendar(app, body, { 'Idempotency-Key': 'enc' }).expect(201)).body).toEqual(first.body);
    expect((await agendar(app, { ...body, duracaoMin: 30 }, { 'Idempotency-Key': 'enc' })).body.type).toBe('/problemas/idempotencia-conflito');
    expect((await request(app).get('/consultas').expect(200)).body.total).toBe(1);
  });
});
