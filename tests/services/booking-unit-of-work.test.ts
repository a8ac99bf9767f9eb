import request from 'supertest';
import { describe, expect, it, vi } from 'vitest';
import type { ScheduleEvent } from '../../src/domain/schedule-state.js';
import type { StoragePort, UnitOfWork, Work } from '../../src/repositories/port.js';
import { makeApp } from '../helpers/app.js';
import { agendar, at, clinic } from '../helpers/scheduling.js';

const RETRY = new Error('simulated serialization failure');

/**
 * Makes every unit of work run twice, as a database driver does after a serialization failure: a first,
 * complete attempt whose writes are all taken back (the JSON driver undoes a unit of work that throws), then
 * the attempt that commits. Returns what each attempt's `tx.lock` and encaixe count were asked, in order.
 */
function retryEveryUnitOfWork(storage: StoragePort): string[] {
  const calls: string[] = [];
  const run = storage.run.bind(storage);
  const traced = (tx: UnitOfWork): UnitOfWork => ({
    ...tx,
    lock: async (key) => {
      calls.push(`lock ${key}`);
      await tx.lock(key);
    },
    consultas: {
      ...tx.consultas,
      encaixesBetween: async (...args) => {
        calls.push('count encaixes');
        return tx.consultas.encaixesBetween(...args);
      },
    },
  });
  vi.spyOn(storage, 'run').mockImplementation(async <R>(work: Work<R>): Promise<R> => {
    await run(async (tx) => {
      await work(traced(tx));
      throw RETRY;
    }).catch((error: unknown) => {
      if (error !== RETRY) throw error;
    });
    return run((tx) => work(traced(tx)));
  });
  return calls;
}

describe('booking units of work', () => {
  it('when the driver runs each unit of work twice, then one consulta, one audit entry and one ocupado result', async () => {
    const { app, container } = await makeApp({ storage: 'memory' });
    const { medicoId, pacienteId } = await clinic(app);
    const events: ScheduleEvent[] = [];
    container.schedule.subscribe((e) => events.push(e));
    retryEveryUnitOfWork(container.storage);

    const res = await agendar(app, { medicoId, pacienteId, inicio: at('08:00') }, { 'Idempotency-Key': 'uow-1' }).expect(201);
    const list = await request(app).get('/consultas').query({ medicoId }).expect(200);
    expect(list.body.items.map((c: { id: string }) => c.id)).toEqual([res.body.id]);
    expect(events.map((e) => e.type)).toEqual(['horario_reservado', 'horario_ocupado']);
    await container.auditor.flush();
    const audit = await container.auditLog.query({ acao: 'consulta.agendar', limit: 10, offset: 0 });
    expect(audit.items.map((e) => e.recursoId)).toEqual([res.body.id]);
    // The key was stored once, by the attempt that committed: a retry replays that booking.
    const replay = await agendar(app, { medicoId, pacienteId, inicio: at('08:00') }, { 'Idempotency-Key': 'uow-1' }).expect(201);
    expect(replay.body.id).toBe(res.body.id);
  });

  it('when an encaixe is booked, then the worker locks the médico and day before counting its encaixes', async () => {
    const { app, container } = await makeApp({ storage: 'memory' });
    const { medicoId, pacienteId } = await clinic(app);
    const calls = retryEveryUnitOfWork(container.storage);

    await agendar(app, { medicoId, pacienteId, inicio: at('08:10'), encaixe: true }).expect(201);
    const lock = `lock encaixe:${medicoId}:2026-12-07`;
    // Two attempts, each: the lock, then the count.
    expect(calls).toEqual([lock, 'count encaixes', lock, 'count encaixes']);
  });
});
