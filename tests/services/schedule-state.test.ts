import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { AppError } from '../../src/core/errors.js';
import { ScheduleState, type ScheduleEvent } from '../../src/domain/schedule-state.js';
import { JsonStorage } from '../../src/infra/storage/json/json-storage.js';
import { MemoryStore } from '../../src/infra/storage/json/memory-store.js';
import { ALL_COLLECTIONS } from '../../src/repositories/collections.js';
import type { ConsultaRecord } from '../../src/repositories/port.js';

function setup() {
  const storage = new JsonStorage(new MemoryStore(ALL_COLLECTIONS));
  const clock = new ManualClock(new Date('2026-11-30T15:00:00Z'));
  const schedule = new ScheduleState({ changes: storage.changes, consultas: storage.consultas, clock, timezone: 'America/Sao_Paulo', reservationTtlMs: 1000 });
  const events: ScheduleEvent[] = [];
  schedule.subscribe((e) => events.push(e));
  const save = (c: ConsultaRecord) => storage.run((tx) => tx.consultas.save(c));
  return { save, clock, schedule, events };
}

const slot = { inicioMs: Date.parse('2026-12-07T11:00:00Z'), fimMs: Date.parse('2026-12-07T11:30:00Z') };
const consulta = (status: ConsultaRecord['status'], inicio = '2026-12-07T08:00:00-03:00', fim = '2026-12-07T08:30:00-03:00'): ConsultaRecord => ({
  id: 'c1', medicoId: 'm1', pacienteId: 'p1', inicio, fim, status, observacoes: null, motivoCancelamento: null, chegouEm: null, encaixe: false, criadaEm: 'x', atualizadaEm: 'x',
});

describe('ScheduleState', () => {
  it('when reserved twice, then the second is refused, and a release frees it', async () => {
    const { schedule, events } = setup();
    const r = await schedule.reserve('m1', slot);
    await expect(schedule.reserve('m1', slot)).rejects.toThrow(AppError);
    await schedule.release(r);
    await schedule.release(r); // a second release changes nothing
    expect(events.map((e) => e.type)).toEqual(['horario_reservado', 'horario_disponivel']);
    expect(events[0]).toEqual({
      type: 'horario_reservado', medicoId: 'm1', inicio: '2026-12-07T08:00:00-03:00', fim: '2026-12-07T08:30:00-03:00', estado: 'reservado',
    });
  });

  it('when an agendada consulta is committed on a reserved slot, then it becomes ocupado and the release is a no-op', async () => {
    const { save, schedule, events } = setup();
    const r = await schedule.reserve('m1', slot);
    await save(consulta('agendada'));
    await schedule.release(r);
    expect(events.map((e) => e.type)).toEqual(['horario_reservado', 'horario_ocupado']);
    expect(events[1]).toMatchObject({ estado: 'ocupado', consultaId: 'c1' });
    await expect(schedule.reserve('m1', slot)).rejects.toThrow(AppError);
  });

  it('when a consulta is cancelled or moved, then its old slot goes back to disponivel', async () => {
    const { save, events } = setup();
    await save(consulta('agendada'));
    await save(consulta('agendada', '2026-12-07T09:00:00-03:00', '2026-12-07T09:30:00-03:00'));
    await save(consulta('cancelada', '2026-12-07T09:00:00-03:00', '2026-12-07T09:30:00-03:00'));
    expect(events.map((e) => (e.type === 'resync' ? e.type : `${e.type} ${e.inicio.slice(11, 16)}`))).toEqual([
      'horario_ocupado 08:00',
      'horario_disponivel 08:00',
      'horario_ocupado 09:00',
      'horario_disponivel 09:00',
      'consulta_status 09:00', // v2: every status change is told too (here agendada → cancelada)
    ]);
  });

  it('when a reservation outlives its time, then it expires back to disponivel', async () => {
    const { schedule, clock, events } = setup();
    await schedule.reserve('m1', slot);
    clock.advance(999);
    await schedule.expire();
    expect(schedule.reservedCount).toBe(1);
    clock.advance(1);
    await schedule.expire();
    expect(schedule.reservedCount).toBe(0);
    expect(events.map((e) => e.type)).toEqual(['horario_reservado', 'horario_disponivel']);
  });

  it('when two requests reserve one slot while the conflict query is in flight, then exactly one gets it', async () => {
    // A driver whose queries take real time (a database): both requests are past the first in-memory check
    // before either query answers.
    const { changes } = new JsonStorage(new MemoryStore(ALL_COLLECTIONS));
    const answers: (() => void)[] = [];
    const consultas = { medicoConflict: () => new Promise<undefined>((resolve) => answers.push(() => resolve(undefined))) };
    const schedule = new ScheduleState({ changes, consultas, clock: new ManualClock(new Date('2026-11-30T15:00:00Z')), timezone: 'America/Sao_Paulo' });
    const first = schedule.reserve('m1', slot);
    const second = schedule.reserve('m1', slot);
    expect(answers).toHaveLength(2);
    for (const answer of answers) answer();
    const results = await Promise.allSettled([first, second]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(schedule.reservedCount).toBe(1);
    schedule.stop();
  });

  it('when the slot is reserved again while a release awaits its query, then the release stays silent', async () => {
    const { changes } = new JsonStorage(new MemoryStore(ALL_COLLECTIONS));
    const answers: (() => void)[] = [];
    const consultas = { medicoConflict: () => new Promise<undefined>((resolve) => answers.push(() => resolve(undefined))) };
    const schedule = new ScheduleState({ changes, consultas, clock: new ManualClock(new Date('2026-11-30T15:00:00Z')), timezone: 'America/Sao_Paulo' });
    const events: ScheduleEvent[] = [];
    schedule.subscribe((e) => events.push(e));
    const reserving = schedule.reserve('m1', slot);
    answers.shift()!();
    const r = await reserving;
    const releasing = schedule.release(r);
    const again = schedule.reserve('m1', slot);
    const [releaseQuery, reserveQuery] = [answers.shift()!, answers.shift()!];
    reserveQuery(); // the new reservation's query answers first, and it takes the slot
    await again;
    releaseQuery(); // then the release's query: no holder, but its news is older than the reservation
    await releasing;
    // The last word is the newer reservation, not the release's `disponivel`.
    expect(events.map((e) => e.type)).toEqual(['horario_reservado', 'horario_reservado']);
    expect(schedule.isReserved('m1', slot.inicioMs)).toBe(true);
    schedule.stop();
  });
});
