import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { AppError } from '../../src/core/errors.js';
import { ScheduleState, type ScheduleEvent } from '../../src/infra/schedule-state.js';
import { MemoryStore } from '../../src/infra/storage/json/memory-store.js';
import { ALL_COLLECTIONS } from '../../src/repositories/collections.js';
import { ConsultaRepository, type ConsultaRecord } from '../../src/infra/storage/json/repositories/consulta.repository.js';

function setup() {
  const store = new MemoryStore(ALL_COLLECTIONS);
  const clock = new ManualClock(new Date('2026-11-30T15:00:00Z'));
  const consultas = new ConsultaRepository(store);
  const schedule = new ScheduleState({ store, consultas, clock, timezone: 'America/Sao_Paulo', reservationTtlMs: 1000 });
  const events: ScheduleEvent[] = [];
  schedule.subscribe((e) => events.push(e));
  return { store, clock, schedule, events };
}

const slot = { inicioMs: Date.parse('2026-12-07T11:00:00Z'), fimMs: Date.parse('2026-12-07T11:30:00Z') };
const consulta = (status: ConsultaRecord['status'], inicio = '2026-12-07T08:00:00-03:00', fim = '2026-12-07T08:30:00-03:00'): ConsultaRecord => ({
  id: 'c1', medicoId: 'm1', pacienteId: 'p1', inicio, fim, status, observacoes: null, motivoCancelamento: null, chegouEm: null, encaixe: false, criadaEm: 'x', atualizadaEm: 'x',
});

describe('ScheduleState', () => {
  it('when reserved twice, then the second is refused, and a release frees it', () => {
    const { schedule, events } = setup();
    const r = schedule.reserve('m1', slot);
    expect(() => schedule.reserve('m1', slot)).toThrow(AppError);
    schedule.release(r);
    schedule.release(r); // a second release changes nothing
    expect(events.map((e) => e.type)).toEqual(['horario_reservado', 'horario_disponivel']);
    expect(events[0]).toEqual({
      type: 'horario_reservado', medicoId: 'm1', inicio: '2026-12-07T08:00:00-03:00', fim: '2026-12-07T08:30:00-03:00', estado: 'reservado',
    });
  });

  it('when an agendada consulta is committed on a reserved slot, then it becomes ocupado and the release is a no-op', async () => {
    const { store, schedule, events } = setup();
    const r = schedule.reserve('m1', slot);
    await store.transact((tx) => tx.put('consultas', consulta('agendada')));
    schedule.release(r);
    expect(events.map((e) => e.type)).toEqual(['horario_reservado', 'horario_ocupado']);
    expect(events[1]).toMatchObject({ estado: 'ocupado', consultaId: 'c1' });
    expect(() => schedule.reserve('m1', slot)).toThrow(AppError);
  });

  it('when a consulta is cancelled or moved, then its old slot goes back to disponivel', async () => {
    const { store, events } = setup();
    await store.transact((tx) => tx.put('consultas', consulta('agendada')));
    await store.transact((tx) => tx.put('consultas', consulta('agendada', '2026-12-07T09:00:00-03:00', '2026-12-07T09:30:00-03:00')));
    await store.transact((tx) => tx.put('consultas', consulta('cancelada', '2026-12-07T09:00:00-03:00', '2026-12-07T09:30:00-03:00')));
    expect(events.map((e) => (e.type === 'resync' ? e.type : `${e.type} ${e.inicio.slice(11, 16)}`))).toEqual([
      'horario_ocupado 08:00',
      'horario_disponivel 08:00',
      'horario_ocupado 09:00',
      'horario_disponivel 09:00',
      'consulta_status 09:00', // v2: every status change is told too (here agendada → cancelada)
    ]);
  });

  it('when a reservation outlives its time, then it expires back to disponivel', () => {
    const { schedule, clock, events } = setup();
    schedule.reserve('m1', slot);
    clock.advance(999);
    schedule.expire();
    expect(schedule.reservedCount).toBe(1);
    clock.advance(1);
    schedule.expire();
    expect(schedule.reservedCount).toBe(0);
    expect(events.map((e) => e.type)).toEqual(['horario_reservado', 'horario_disponivel']);
  });
});
