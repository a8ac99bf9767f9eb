import request from 'supertest';
import { describe, expect, it, vi } from 'vitest';
import { makeApp, medicoBody, reopenStorage } from '../helpers/app.js';
import { describeEachDriver } from '../helpers/drivers.js';
import { bearer } from '../helpers/app.js';
import { agendar, at, clinic } from '../helpers/scheduling.js';
import type { ScheduleEvent } from '../../src/domain/schedule-state.js';

const slotOf = async (app: Parameters<typeof agendar>[0], medicoId: string, inicio: string) => {
  const res = await request(app).get(`/medicos/${medicoId}/agenda`).query({ data: inicio.slice(0, 10) }).expect(200);
  return res.body.slots.find((s: { inicio: string }) => s.inicio === inicio);
};

describeEachDriver(() => {
  describe('POST /consultas/agendar', () => {
    it('when the slot is free, then 201 with Location and the slot becomes ocupado', async () => {
      const { app } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      const res = await agendar(app, { medicoId, pacienteId, inicio: '2026-12-07T11:00:00Z', observacoes: 'primeira vez' });
      expect(res.status).toBe(201);
      expect(res.headers.location).toBe(`/consultas/${res.body.id}`);
      expect(res.body).toMatchObject({
        medicoId,
        pacienteId,
        inicio: '2026-12-07T08:00:00-03:00', // input in Z, output in the clinic's offset
        fim: '2026-12-07T08:30:00-03:00',
        status: 'agendada',
        observacoes: 'primeira vez',
        motivoCancelamento: null,
        criadaEm: '2026-11-30T12:00:00-03:00',
      });
      expect(await slotOf(app, medicoId, at('08:00'))).toEqual({
        inicio: at('08:00'), fim: at('08:30'), estado: 'ocupado', consultaId: res.body.id,
      });
      await request(app).get(`/consultas/${res.body.id}`).expect(200, res.body);
    });

    it('when the slot is taken, then 409 horario-ocupado, refused before the slot is ever shown reservado', async () => {
      const { app, container } = await makeApp();
      const { medicoId, pacientes } = await clinic(app, { pacientes: 2 });
      await agendar(app, { medicoId, pacienteId: pacientes[0], inicio: at('09:00') }).expect(201);
      const events: ScheduleEvent[] = [];
      container.schedule.subscribe((e) => events.push(e));
      const res = await agendar(app, { medicoId, pacienteId: pacientes[1], inicio: at('09:00') });
      expect(res.status).toBe(409);
      expect(res.headers['content-type']).toMatch(/problem\+json/);
      expect(res.body).toMatchObject({ type: '/problemas/horario-ocupado', status: 409 });
      // The early checks found the holder: no reservado flashed over the ocupado slot, no task ran.
      expect(events).toEqual([]);
      expect(container.schedule.reservedCount).toBe(0);
    });

    it('when the paciente already has a consulta at that time with another médico, then 409 conflito-paciente, before any slot event', async () => {
      const { app, container } = await makeApp();
      const { medicos, pacienteId } = await clinic(app, { medicos: 2 });
      await agendar(app, { medicoId: medicos[0], pacienteId, inicio: at('09:00') }).expect(201);
      const events: ScheduleEvent[] = [];
      container.schedule.subscribe((e) => events.push(e));
      const res = await agendar(app, { medicoId: medicos[1], pacienteId, inicio: at('09:00') });
      expect(res.status).toBe(409);
      expect(res.body.type).toBe('/problemas/conflito-paciente');
      expect(events).toEqual([]);
    });

    it('when the paciente is busy and the slot is taken too, then the paciente conflict is the answer', async () => {
      const { app } = await makeApp();
      const { medicos, pacientes } = await clinic(app, { medicos: 2, pacientes: 2 });
      await agendar(app, { medicoId: medicos[0], pacienteId: pacientes[0], inicio: at('09:00') }).expect(201);
      await agendar(app, { medicoId: medicos[1], pacienteId: pacientes[1], inicio: at('09:00') }).expect(201);
      const res = await agendar(app, { medicoId: medicos[0], pacienteId: pacientes[1], inicio: at('09:00') });
      expect(res.status).toBe(409);
      expect(res.body.type).toBe('/problemas/conflito-paciente');
    });

    it.each([
      ['in the past', { inicio: '2026-11-30T08:00:00-03:00' }, '/problemas/regra-de-agendamento', 'inicio'],
      ['not a slot start', { inicio: at('08:10') }, '/problemas/regra-de-agendamento', 'inicio'],
      ['outside working hours', { inicio: at('12:00') }, '/problemas/regra-de-agendamento', 'inicio'],
      ['on a day off', { inicio: '2026-12-08T08:00:00-03:00' }, '/problemas/regra-de-agendamento', 'inicio'],
      ['an unknown médico', { medicoId: '00000000-0000-4000-8000-000000000000' }, '/problemas/referencia-invalida', 'medicoId'],
      ['an unknown paciente', { pacienteId: 'nao-existe' }, '/problemas/referencia-invalida', 'pacienteId'],
    ])('when %s, then 422 naming the field, and the slot stays free', async (_case, overrides, type, path) => {
      const { app } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      const res = await agendar(app, { medicoId, pacienteId, inicio: at('08:00'), ...overrides });
      expect(res.status).toBe(422);
      expect(res.body).toMatchObject({ type, status: 422, errors: [{ path }] });
      expect((await slotOf(app, medicoId, at('08:00'))).estado).toBe('disponivel');
    });

    it('when the médico is inactive, then 422', async () => {
      const { app } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      await request(app).put(`/medicos/${medicoId}`).send(medicoBody({ crm: '1000/SP', ativo: false })).expect(200);
      const res = await agendar(app, { medicoId, pacienteId, inicio: at('08:00') });
      expect(res.status).toBe(422);
      expect(res.body.detail).toMatch(/inativo/);
    });

    it.each([
      ['no offset', { inicio: '2026-12-07T08:00:00' }, 'inicio'],
      ['a date only', { inicio: '2026-12-07' }, 'inicio'],
      ['missing paciente', { pacienteId: undefined }, 'pacienteId'],
      ['long observations', { observacoes: 'x'.repeat(2001) }, 'observacoes'],
    ])('when %s, then 400', async (_case, overrides, path) => {
      const { app } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      const res = await agendar(app, { medicoId, pacienteId, inicio: at('08:00'), ...overrides });
      expect(res.status).toBe(400);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    });

    it('when Prefer: respond-async, then 202 with the task, which completes with the consulta', async () => {
      const { app, container } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      const res = await agendar(app, { medicoId, pacienteId, inicio: at('10:00') }, { Prefer: 'respond-async' });
      expect(res.status).toBe(202);
      expect(res.headers.location).toBe(`/sistema/tasks/${res.body.id}`);
      expect(res.headers['preference-applied']).toBe('respond-async');
      expect(res.body).toMatchObject({ tipo: 'agendar_consulta', status: expect.stringMatching(/pendente|executando/) });
      await container.queue.onIdle();
      const task = await request(app).get(`/sistema/tasks/${res.body.id}`).expect(200);
      expect(task.body).toMatchObject({ status: 'concluida', progresso: 100, resultado: { consultaId: expect.any(String) } });
      await request(app).get(`/consultas/${task.body.resultado.consultaId}`).expect(200);
      const list = await request(app).get('/sistema/tasks').query({ tipo: 'agendar_consulta', status: 'concluida' }).expect(200);
      expect(list.body.items.map((t: { id: string }) => t.id)).toContain(res.body.id);
    });

    it('when 200 requests race for one slot, then one 201, 199 × 409, and one agendada consulta stored', async () => {
      const made = await makeApp();
      const { app, container } = made;
      const { medicoId, pacientes } = await clinic(app, { pacientes: 6 });
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => agendar(app, { medicoId, pacienteId: pacientes[i % 6], inicio: at('15:00') })),
      );
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      expect(statuses.filter((s) => s === 409)).toHaveLength(199);
      await container.close();
      // What a fresh process finds: the data directory's files (JSON), the database (PostgreSQL).
      const stored = await reopenStorage(made);
      const agendadas = await stored.consultas.list({ status: 'agendada', limit: 10, offset: 0 });
      expect(agendadas.total).toBe(1);
      await stored.close();
    });

    it('when one paciente books two médicos at the same time concurrently, then one succeeds', async () => {
      const { app } = await makeApp();
      const { medicos, pacienteId } = await clinic(app, { medicos: 2 });
      for (const time of ['08:00', '08:30', '09:00', '09:30']) {
        const results = await Promise.all(medicos.map((medicoId) => agendar(app, { medicoId, pacienteId, inicio: at(time) })));
        expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
        expect(results.find((r) => r.status === 409)!.body.type).toBe('/problemas/conflito-paciente');
      }
    });
  });

  describe('Idempotency-Key', () => {
    it('when retried with the same key and body, then the first response comes back and nothing new is booked', async () => {
      const { app } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      const body = { medicoId, pacienteId, inicio: at('08:30') };
      const first = await agendar(app, body, { 'Idempotency-Key': 'abc-123' });
      expect(first.status).toBe(201);
      const again = await agendar(app, body, { 'Idempotency-Key': 'abc-123' });
      expect(again.status).toBe(201);
      expect(again.body).toEqual(first.body);
      expect(again.headers.location).toBe(first.headers.location);
      const list = await request(app).get('/consultas').query({ medicoId }).expect(200);
      expect(list.body.total).toBe(1);
    });

    it('when concurrent retries share a key, then they all get the one booking', async () => {
      const { app } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      const body = { medicoId, pacienteId, inicio: at('16:00') };
      const results = await Promise.all(Array.from({ length: 10 }, () => agendar(app, body, { 'Idempotency-Key': 'same' })));
      expect(results.map((r) => r.status)).toEqual(Array(10).fill(201));
      expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    });

    it('when the same key comes with another body, then 422', async () => {
      const { app } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      await agendar(app, { medicoId, pacienteId, inicio: at('08:30') }, { 'Idempotency-Key': 'k1' }).expect(201);
      const res = await agendar(app, { medicoId, pacienteId, inicio: at('09:30') }, { 'Idempotency-Key': 'k1' });
      expect(res.status).toBe(422);
      expect(res.body.type).toBe('/problemas/idempotencia-conflito');
    });

    it('when the first attempt failed on a rule, then a retry answers the same failure', async () => {
      const { app, container } = await makeApp();
      const { medicoId, pacientes } = await clinic(app, { pacientes: 2 });
      const body = { medicoId, pacienteId: pacientes[1], inicio: at('11:00') };
      // Both in flight at once, the keyed one sent once the other holds the slot: it loses, on either driver
      // (sent together, which request's reads return first is the database's timing, not the test's).
      const add = container.queue.add.bind(container.queue);
      const queued = new Promise<void>((resolve) => {
        vi.spyOn(container.queue, 'add').mockImplementation((tipo, payload) => {
          resolve();
          return add(tipo, payload);
        });
      });
      const first = agendar(app, { ...body, pacienteId: pacientes[0] }).then((res) => res);
      await queued;
      const [, keyed] = await Promise.all([first, agendar(app, body, { 'Idempotency-Key': 'perdeu' })]);
      expect(keyed.status).toBe(409);
      const retry = await agendar(app, body, { 'Idempotency-Key': 'perdeu' });
      expect(retry.status).toBe(409);
      expect(retry.body).toEqual(keyed.body);
    });

    it('when the server restarts, then the key still answers with the first response', async () => {
      const first = await makeApp();
      const { medicoId, pacienteId } = await clinic(first.app);
      const body = { medicoId, pacienteId, inicio: at('17:00') };
      const created = await agendar(first.app, body, { 'Idempotency-Key': 'reinicio' }).expect(201);
      await first.container.close();
      const second = await makeApp({ env: { DATA_DIR: first.dataDir } });
      // Keys belong to the user who sent them: the same admin (its session survived the restart too).
      const again = await agendar(second.app, body, { 'Idempotency-Key': 'reinicio', ...bearer(first.adminToken) });
      expect(again.status).toBe(201);
      expect(again.body).toEqual(created.body);
      expect((await request(second.app).get('/consultas').expect(200)).body.total).toBe(1);
    });

    it('when the key is not visible ASCII or too long, then 400', async () => {
      const { app } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      const res = await agendar(app, { medicoId, pacienteId, inicio: at('08:00') }, { 'Idempotency-Key': 'x'.repeat(256) });
      expect(res.status).toBe(400);
      expect(res.body.errors[0].path).toBe('Idempotency-Key');
    });
  });
});
