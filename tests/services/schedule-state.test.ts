import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { AppError } from '../../src/core/errors.js';
import { REMOTE_CHECK_MS, ScheduleState, type ScheduleEvent, type ScheduleStateDeps } from '../../src/domain/schedule-state.js';
import { JsonStorage } from '../../src/infra/storage/json/json-storage.js';
import { MemoryStore } from '../../src/infra/storage/json/memory-store.js';
import { ALL_COLLECTIONS } from '../../src/repositories/collections.js';
import type { Change, ChangeFeed, ConsultaRecord, Signals } from '../../src/repositories/port.js';

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
/** What another process publishes when it reserves `slot` of médico m1. */
const reservadoSignal = { estado: 'reservado', medicoId: 'm1', inicioMs: slot.inicioMs, fimMs: slot.fimMs };
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

/** Signals between schedules of one test, as PostgreSQL carries them between processes: never to the sender. */
function signalBus() {
  const members: { topic: string; listener: (payload: unknown, from: string) => void; self: object }[] = [];
  let processes = 0;
  let failNext = false;
  return {
    failNextPublish: () => (failNext = true),
    member(): Signals {
      const self = {};
      const id = `processo-${++processes}`;
      return {
        async publish(topic, payload) {
          if (failNext) {
            failNext = false;
            throw new AppError('ARMAZENAMENTO_INDISPONIVEL', 'banco fora');
          }
          // Through JSON, as NOTIFY carries it.
          const copy = JSON.parse(JSON.stringify(payload)) as unknown;
          for (const m of members) if (m.topic === topic && m.self !== self) m.listener(copy, id);
        },
        subscribe(topic, listener) {
          const entry = { topic, listener, self };
          members.push(entry);
          return () => members.splice(members.indexOf(entry), 1);
        },
      };
    },
  };
}

/** The storage's conflict query, counting how often it is asked. */
function countingConflicts(storage: JsonStorage) {
  const counted = {
    queries: 0,
    consultas: {
      medicoConflict: (...args: Parameters<typeof storage.consultas.medicoConflict>) => (counted.queries++, storage.consultas.medicoConflict(...args)),
    },
  };
  return counted;
}

/**
 * One storage, signal bus and clock shared by a test's processes; `process` makes one of them: its own ScheduleState
 * on the bus, reading conflicts through `consultas` and hearing commits on `changes` (the storage's, unless given).
 */
function world() {
  const storage = new JsonStorage(new MemoryStore(ALL_COLLECTIONS));
  const bus = signalBus();
  const clock = new ManualClock(new Date('2026-11-30T15:00:00Z'));
  const process = (
    options: { consultas?: ScheduleStateDeps['consultas']; changes?: ChangeFeed; reservationTtlMs?: number } = {},
  ): ScheduleState =>
    new ScheduleState({ changes: storage.changes, consultas: storage.consultas, signals: bus.member(), clock, timezone: 'America/Sao_Paulo', ...options });
  return { storage, bus, clock, process };
}

describe('ScheduleState across processes (signals)', () => {
  function pair() {
    const { storage, bus, clock, process } = world();
    const make = () => {
      const schedule = process({ reservationTtlMs: 1000 });
      const events: ScheduleEvent[] = [];
      schedule.subscribe((e) => events.push(e));
      return { schedule, events };
    };
    return { a: make(), b: make(), bus, clock, save: (c: ConsultaRecord) => storage.run((tx) => tx.consultas.save(c)) };
  }
  const kinds = (events: ScheduleEvent[]) => events.map((e) => e.type);

  it('when A reserves, then B shows the slot reserved and refuses it, and hears ocupado once A commits', async () => {
    const { a, b, save } = pair();
    const r = await a.schedule.reserve('m1', slot);
    expect(kinds(b.events)).toEqual(['horario_reservado']);
    expect(b.schedule.isReserved('m1', slot.inicioMs)).toBe(true);
    await expect(b.schedule.reserve('m1', slot)).rejects.toMatchObject({ code: 'HORARIO_OCUPADO' });
    await save(consulta('agendada'));
    await a.schedule.release(r);
    expect(kinds(b.events)).toEqual(['horario_reservado', 'horario_ocupado']);
    expect(b.schedule.reservedCount).toBe(0);
  });

  it('when A\'s booking fails, then its release reaches B and the slot is disponivel there, and B may book it', async () => {
    const { a, b } = pair();
    const r = await a.schedule.reserve('m1', slot);
    await a.schedule.release(r);
    await new Promise((resolve) => setImmediate(resolve));
    expect(kinds(b.events)).toEqual(['horario_reservado', 'horario_disponivel']);
    await b.schedule.reserve('m1', slot);
    expect(kinds(a.events).slice(-1)).toEqual(['horario_reservado']);
  });

  it('when A dies holding a reservation, then B lets it expire back to disponivel', async () => {
    const { a, b, clock } = pair();
    await a.schedule.reserve('m1', slot);
    a.schedule.stop();
    clock.advance(1000);
    await b.schedule.expire();
    expect(kinds(b.events)).toEqual(['horario_reservado', 'horario_disponivel']);
    expect(b.schedule.reservedCount).toBe(0);
  });

  it('when the signal cannot be sent, then the reservation is given back and the booking is refused', async () => {
    const { a, b, bus } = pair();
    bus.failNextPublish();
    await expect(a.schedule.reserve('m1', slot)).rejects.toMatchObject({ code: 'ARMAZENAMENTO_INDISPONIVEL' });
    expect(a.schedule.reservedCount).toBe(0);
    expect(kinds(a.events)).toEqual(['horario_reservado', 'horario_disponivel']);
    expect(b.schedule.reservedCount).toBe(0);
  });

  it('when a signal is malformed (another version, or hostile), then it is ignored', async () => {
    const { bus, process } = world();
    const sender = bus.member();
    const schedule = process({ consultas: { medicoConflict: async () => undefined } });
    const hostile = [
      null, 'x', { estado: 'reservado' }, { estado: 'reservado', medicoId: 'm1', inicioMs: 2, fimMs: 1 }, { estado: 'ocupado', medicoId: 'm1', inicioMs: 1, fimMs: 2 },
      { estado: 'reservado', medicoId: 'm1', inicioMs: 9e15, fimMs: 9e15 + 1 }, { estado: 'reservado', medicoId: 'x'.repeat(65), inicioMs: 1, fimMs: 2 },
      { estado: 'reservado', medicoId: 'm1', inicioMs: 1, fimMs: 3 * 86_400_000 },
    ];
    for (const payload of hostile) {
      await sender.publish('reservas', payload);
    }
    expect(schedule.reservedCount).toBe(0);
    await sender.publish('reservas', { estado: 'reservado', medicoId: 'm1', inicioMs: 1, fimMs: 2 });
    expect(schedule.reservedCount).toBe(1); // the well-formed one is heard
    schedule.stop();
  });

  it('when a process other than the holder sends liberado for the slot (it lost its own race), then the reservation stays', async () => {
    const { a, b, bus } = pair();
    const other = bus.member();
    const r = await a.schedule.reserve('m1', slot);
    await other.publish('reservas', { estado: 'liberado', medicoId: 'm1', inicioMs: slot.inicioMs, fimMs: slot.fimMs });
    await new Promise((resolve) => setImmediate(resolve));
    expect(b.schedule.isReserved('m1', slot.inicioMs)).toBe(true);
    await a.schedule.release(r);
    await new Promise((resolve) => setImmediate(resolve));
    expect(b.schedule.isReserved('m1', slot.inicioMs)).toBe(false);
  });

  it('when A reserves and commits, then B makes no query of its own for the slot: the signal and the feed tell it all', async () => {
    const { storage, clock, process } = world();
    const ofB = countingConflicts(storage);
    const a = process();
    const b = process({ consultas: ofB.consultas });
    const events: ScheduleEvent[] = [];
    b.subscribe((e) => events.push(e));
    const r = await a.reserve('m1', slot);
    await storage.run((tx) => tx.consultas.save(consulta('agendada')));
    await a.release(r);
    await new Promise((resolve) => setTimeout(resolve, 10));
    clock.advance(REMOTE_CHECK_MS);
    await b.expire();
    expect(kinds(events)).toEqual(['horario_reservado', 'horario_ocupado']);
    expect(ofB.queries).toBe(0);
    a.stop();
    b.stop();
  });

  it('when a reservation is heard while a release of the slot awaits its query, then it is checked at once and the slot ends ocupado', async () => {
    const { storage, bus, process } = world();
    // Conflict queries answer when the test says, with the answer the test gives (a snapshot taken before a commit).
    const held: { args: Parameters<typeof storage.consultas.medicoConflict>; answer: (holder: ConsultaRecord | undefined) => void }[] = [];
    let holdNext = 0;
    const consultas = {
      medicoConflict: (...args: Parameters<typeof storage.consultas.medicoConflict>) => {
        if (holdNext === 0) return storage.consultas.medicoConflict(...args);
        holdNext--;
        return new Promise<ConsultaRecord | undefined>((answer) => held.push({ args, answer }));
      },
    };
    const o = process({ consultas });
    const events: ScheduleEvent[] = [];
    o.subscribe((e) => events.push(e));
    const loser = bus.member();
    // O's own request asks before another process's commit lands, and hears nothing of it.
    holdNext = 1;
    const reserving = o.reserve('m1', slot);
    await new Promise((resolve) => setImmediate(resolve));
    await storage.run((tx) => tx.consultas.save(consulta('agendada')));
    held.shift()!.answer(undefined);
    const r = await reserving;
    // Its booking fails on the constraint; the release waits for its query.
    holdNext = 1;
    const releasing = o.release(r);
    await new Promise((resolve) => setImmediate(resolve));
    // Meanwhile a third process that also lost the race announces its reservation (and will never release it).
    await loser.publish('reservas', reservadoSignal);
    const late = held.shift()!;
    late.answer(await storage.consultas.medicoConflict(...late.args));
    await releasing;
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(kinds(events).at(-1)).toBe('horario_ocupado');
    expect(o.isReserved('m1', slot.inicioMs)).toBe(false);
    o.stop();
  });

  it('when a remote reservation stands, then the sweeper asks once, after REMOTE_CHECK_MS and not before', async () => {
    const { storage, bus, clock, process } = world();
    const counted = countingConflicts(storage);
    const b = process({ consultas: counted.consultas });
    // A process that reserved and then hung: no commit, no liberado.
    await bus.member().publish('reservas', reservadoSignal);
    clock.advance(REMOTE_CHECK_MS - 1);
    await b.expire();
    expect(counted.queries).toBe(0);
    clock.advance(1);
    await b.expire();
    await b.expire();
    clock.advance(1000);
    await b.expire();
    expect(counted.queries).toBe(1);
    // Nothing holds the slot: it stays reserved until it expires.
    expect(b.isReserved('m1', slot.inicioMs)).toBe(true);
    b.stop();
  });

  it('when a reservation is heard after the commit that occupies the slot, then the slot goes back to ocupado at once', async () => {
    const { b, bus, save } = pair();
    await save(consulta('agendada'));
    b.events.length = 0;
    await bus.member().publish('reservas', reservadoSignal);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(kinds(b.events)).toEqual(['horario_reservado', 'horario_ocupado']);
    expect(b.schedule.isReserved('m1', slot.inicioMs)).toBe(false);
  });

  it('when B finds the commit before its feed delivers it, then B says ocupado once, whichever path lands first', async () => {
    const { storage, bus, clock, process } = world();
    // B's feed is held back: it hears commits only when the test hands them over (a process reading the feed late,
    // or one that started after the commit and never hears it).
    const held: ((changes: readonly Change[]) => void)[] = [];
    const lagging: ChangeFeed = { onCommit: (l) => (held.push(l), () => undefined), onReset: () => () => undefined };
    const b = process({ changes: lagging, reservationTtlMs: 60_000 });
    const events: ScheduleEvent[] = [];
    b.subscribe((e) => events.push(e));
    const committed: Change[] = [];
    storage.changes.onCommit((changes) => committed.push(...changes));
    await storage.run((tx) => tx.consultas.save(consulta('agendada')));
    await bus.member().publish('reservas', reservadoSignal);
    await new Promise((resolve) => setTimeout(resolve, 10));
    // Nothing says yet that the slot is taken: it shows reserved, and no query was made for it.
    expect(kinds(events)).toEqual(['horario_reservado']);
    await b.expire(); // the sweeper, before REMOTE_CHECK_MS: still nothing to ask
    expect(kinds(events)).toEqual(['horario_reservado']);
    // Still standing after REMOTE_CHECK_MS: the sweeper asks, the conflict query finds the holder before the feed
    // said so, and the slot is ocupado well before the reservation would expire.
    clock.advance(REMOTE_CHECK_MS);
    await b.expire();
    expect(kinds(events)).toEqual(['horario_reservado', 'horario_ocupado']);
    expect(b.isReserved('m1', slot.inicioMs)).toBe(false);
    // Then the feed delivers the same commit: nothing new to say.
    for (const listener of held) listener(committed);
    expect(kinds(events)).toEqual(['horario_reservado', 'horario_ocupado']);
    // A later change of that slot is still heard (cancelled: disponivel).
    await storage.run((tx) => tx.consultas.save({ ...consulta('cancelada'), motivoCancelamento: 'x' }));
    for (const listener of held) listener(committed.slice(-1));
    expect(kinds(events).filter((k) => k.startsWith('horario_'))).toEqual(['horario_reservado', 'horario_ocupado', 'horario_disponivel']);
    b.stop();
  });
});
