import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { TEST_NOW, makeApp, medicoBody } from '../helpers/app.js';
import { NEXT_MONDAY, agendar, at, clinic } from '../helpers/scheduling.js';

interface SlotBody {
  inicio: string;
  fim: string;
  estado: string;
  consultaId: string | null;
  motivo?: string;
}

const slotsOf = async (app: Parameters<typeof request>[0], medicoId: string, data: string): Promise<SlotBody[]> =>
  (await request(app).get(`/medicos/${medicoId}/agenda`).query({ data }).expect(200)).body.slots;

const estados = (slots: SlotBody[]) => Object.fromEntries(slots.map((s) => [s.inicio.slice(11, 16), s.estado]));

describe('the agenda tells the truth', () => {
  it('when a slot has started, then it is passado and stays in step with the clock (the cached answer expires)', async () => {
    const clock = new ManualClock(TEST_NOW); // Monday 2026-11-30 12:00 in São Paulo
    const { app } = await makeApp({ clock });
    const { medicoId, pacienteId } = await clinic(app);
    const today = estados(await slotsOf(app, medicoId, '2026-11-30'));
    expect(today['11:30']).toBe('passado');
    expect(today['14:00']).toBe('disponivel');
    const refused = await agendar(app, { medicoId, pacienteId, inicio: at('11:30', '2026-11-30') });
    expect(refused.status).toBe(422);

    clock.set(new Date('2026-11-30T17:10:00Z')); // 14:10
    const later = estados(await slotsOf(app, medicoId, '2026-11-30'));
    expect(later['14:00']).toBe('passado');
    expect(later['14:30']).toBe('disponivel');
  });

  it('when the médico is deactivated, then its free slots are bloqueado with a motivo, and its consultas stay ocupado', async () => {
    const { app } = await makeApp();
    const { medicoId, pacienteId } = await clinic(app);
    const booked = await agendar(app, { medicoId, pacienteId, inicio: at('09:00') }).expect(201);
    await request(app).put(`/medicos/${medicoId}`).send(medicoBody({ nome: 'Médico 0', crm: '1000/SP', ativo: false })).expect(200);
    const slots = await slotsOf(app, medicoId, NEXT_MONDAY);
    expect(slots.find((s) => s.inicio === at('08:00'))).toMatchObject({ estado: 'bloqueado', motivo: 'Médico inativo' });
    expect(slots.find((s) => s.inicio === at('09:00'))).toMatchObject({ estado: 'ocupado', consultaId: booked.body.id });
  });

  it('when an interval ends at 24:00, then it is accepted and its last slot ends at midnight', async () => {
    const { app } = await makeApp();
    const m = await request(app).post('/medicos').send(medicoBody({ horarios: [{ diaSemana: 1, inicio: '23:00', fim: '24:00' }] })).expect(201);
    const slots = await slotsOf(app, m.body.id, NEXT_MONDAY);
    expect(slots.map((s) => `${s.inicio} ${s.fim}`)).toEqual([`${at('23:00')} ${at('23:30')}`, `${at('23:30')} 2026-12-08T00:00:00-03:00`]);
  });

  it('when an agenda answer is built, then it lists encaixes (none here) beside the slots', async () => {
    const { app } = await makeApp();
    const { medicoId } = await clinic(app);
    const res = await request(app).get(`/medicos/${medicoId}/agenda`).query({ de: NEXT_MONDAY, ate: '2026-12-14' }).expect(200);
    expect(res.body.encaixes).toEqual([]);
    expect(res.body.slots).toHaveLength(32);
  });
});

describe('PUT /medicos/{id} does not orphan consultas', () => {
  const put = (app: Parameters<typeof request>[0], id: string, overrides: Record<string, unknown>) =>
    request(app).put(`/medicos/${id}`).send(medicoBody({ nome: 'Médico 0', crm: '1000/SP', ...overrides }));

  it('when new working hours would leave a future consulta outside them, then 409 consultas-afetadas lists it and nothing changes', async () => {
    const { app } = await makeApp();
    const { medicoId, pacienteId } = await clinic(app);
    const late = await agendar(app, { medicoId, pacienteId, inicio: at('17:00') }).expect(201);
    const res = await put(app, medicoId, { horarios: [{ diaSemana: 1, inicio: '08:00', fim: '12:00' }] });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ type: '/problemas/consultas-afetadas', status: 409, consultas: [late.body.id] });
    expect(res.body.detail).toBe('A mudança deixaria 1 consulta futura fora dos horários de atendimento; cancele ou remarque antes.');
    expect((await request(app).get(`/medicos/${medicoId}`)).body.horarios).toHaveLength(2);
  });

  it('when a new duration moves the grid under a consulta, then 409 lists it; a change that keeps it is accepted', async () => {
    const { app } = await makeApp();
    const { medicoId, pacienteId } = await clinic(app);
    const c = await agendar(app, { medicoId, pacienteId, inicio: at('09:00') }).expect(201);
    const res = await put(app, medicoId, { duracaoConsultaMin: 20 });
    expect(res.status).toBe(409);
    expect(res.body.consultas).toEqual([c.body.id]);
    const widened = await put(app, medicoId, { horarios: [{ diaSemana: 1, inicio: '07:00', fim: '19:00' }, { diaSemana: 2, inicio: '08:00', fim: '12:00' }] });
    expect(widened.status).toBe(200);
  });

  it('when the consulta was cancelled, then the change is accepted', async () => {
    const { app } = await makeApp();
    const { medicoId, pacienteId } = await clinic(app);
    const c = await agendar(app, { medicoId, pacienteId, inicio: at('17:00') }).expect(201);
    await request(app).post(`/consultas/${c.body.id}/cancelar`).send({}).expect(200);
    await put(app, medicoId, { horarios: [{ diaSemana: 1, inicio: '08:00', fim: '12:00' }] }).expect(200);
  });
});
