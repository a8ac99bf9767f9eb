import { describe, expect, it } from 'vitest';
import type { Consulta } from '../../src/schemas/consulta.schema.js';
import { buildGrid, slotAtOrAfter, type AgendaInfo, type StreamEvent } from '../../web/src/agenda/grid.js';
import { applyBatch, FrameBatch, IdBatcher, LoadCoalescer, type LiveDay } from '../../web/src/agenda/live.js';

const TZ = 'America/Sao_Paulo';
const slotsOf = (medicoId: string, hours: string[]): AgendaInfo => ({
  medicoId,
  timezone: TZ,
  slots: hours.map((h) => ({ inicio: `2026-12-01T${h}:00-03:00`, fim: `2026-12-01T${h.slice(0, 3)}${String(Number(h.slice(3)) + 10).padStart(2, '0')}:00-03:00`, estado: 'disponivel' as const, consultaId: null })),
  encaixes: [],
});
const medicos = [{ id: 'm1', nome: 'Ana', especialidade: 'Cardiologia' }, { id: 'm2', nome: 'Bruno', especialidade: 'Pediatria' }];
const grid = () => buildGrid('2026-12-01', medicos, [slotsOf('m1', ['09:00', '09:10', '09:20']), slotsOf('m2', ['10:00', '10:10'])]);
const day = (): LiveDay => ({ grid: grid(), consultas: new Map(), vagas: new Map() });
const ocupado = (medicoId: string, hhmm: string, consultaId: string): StreamEvent =>
  ({ type: 'horario_ocupado', medicoId, inicio: `2026-12-01T${hhmm}:00-03:00`, fim: `2026-12-01T${hhmm}:00-03:00`, estado: 'ocupado', consultaId });
const livre = (medicoId: string, hhmm: string): StreamEvent =>
  ({ type: 'horario_disponivel', medicoId, inicio: `2026-12-01T${hhmm}:00-03:00`, fim: `2026-12-01T${hhmm}:00-03:00`, estado: 'disponivel' });

/** A scheduler run by hand: what a test calls "the next frame". */
function manual() {
  const queue: Array<() => void> = [];
  return { schedule: (run: () => void) => void queue.push(run), runAll: () => queue.splice(0).forEach((run) => run()), get size() { return queue.length; } };
}

describe('the grid keeps formatted times and finds the slot of now', () => {
  it('when the grid is built, then each slot carries its HH:MM in the clinic zone', () => {
    expect(grid().columns[0]!.slots.map((s) => s.hora)).toEqual(['09:00', '09:10', '09:20']);
  });

  it('when today is shown, then the slot running now (else the next one, earliest across columns) is the one to show', () => {
    const g = grid();
    expect(slotAtOrAfter(g, Date.parse('2026-12-01T09:15:00-03:00'))).toMatchObject({ medicoId: 'm1', inicio: '2026-12-01T09:10:00-03:00' });
    expect(slotAtOrAfter(g, Date.parse('2026-12-01T09:45:00-03:00'))).toMatchObject({ medicoId: 'm2', inicio: '2026-12-01T10:00:00-03:00' });
    expect(slotAtOrAfter(g, Date.parse('2026-12-01T06:00:00-03:00'))).toMatchObject({ medicoId: 'm1', inicio: '2026-12-01T09:00:00-03:00' });
    expect(slotAtOrAfter(g, Date.parse('2026-12-01T11:00:00-03:00'))).toBeNull();
  });
});

describe('applying a batch of stream events', () => {
  it('when 100 events arrive in one batch, then one new grid reflects the last state of each slot and names the new consultas once', () => {
    const events: StreamEvent[] = [];
    for (let i = 0; i < 50; i++) events.push(ocupado('m1', '09:10', `c${i}`), livre('m1', '09:10'));
    events.push(ocupado('m2', '10:00', 'cx'), ocupado('m2', '10:00', 'cx'));
    const before = day();
    const out = applyBatch(before, events);
    expect(out.day.grid!.columns[0]!.slots[1]).toMatchObject({ estado: 'disponivel', consultaId: null });
    expect(out.day.grid!.columns[1]!.slots[0]).toMatchObject({ estado: 'ocupado', consultaId: 'cx' });
    expect(out.consultaIds).toContain('cx');
    expect(new Set(out.consultaIds).size).toBe(out.consultaIds.length);
    expect(out.refetch).toBe(false);
    expect(before.grid!.columns[1]!.slots[0]!.estado).toBe('disponivel');
  });

  it('when events are replayed on a snapshot that already shows them, then nothing changes; when it is older, it catches up', () => {
    const booked = applyBatch(day(), [ocupado('m1', '09:00', 'c1')]).day;
    const again = applyBatch(booked, [{ ...ocupado('m1', '09:00', 'c1'), type: 'horario_reservado', estado: 'reservado' } as StreamEvent, ocupado('m1', '09:00', 'c1')]);
    expect(again.day.grid!.columns[0]!.slots[0]!.estado).toBe('ocupado');
    const stale = applyBatch(day(), [ocupado('m1', '09:00', 'c1')]);
    expect(stale.day.grid!.columns[0]!.slots[0]!.estado).toBe('ocupado');
  });

  it('when no event changes a part, then that part keeps its identity (no re-render)', () => {
    const before = day();
    const out = applyBatch(before, [ocupado('m9', '09:00', 'c1'), livre('m1', '09:00')]);
    expect(out.day.grid).toBe(before.grid);
    expect(out.day.consultas).toBe(before.consultas);
    expect(out.day.vagas).toBe(before.vagas);
  });

  it('when several resyncs and agenda changes come in a batch, then one refetch is asked; vagas and statuses follow the events', () => {
    const consulta = { id: 'c1', status: 'agendada', inicio: 'a', fim: 'b' } as unknown as Consulta;
    const before: LiveDay = { ...day(), consultas: new Map([['c1', consulta]]) };
    const out = applyBatch(before, [
      { type: 'resync' },
      { type: 'agenda_alterada', medicoId: 'm1' },
      { type: 'vaga_disponivel', medicoId: 'm1', inicio: '2026-12-01T09:20:00-03:00', fim: 'x', listaEsperaIds: ['l1', 'l2'] },
      { type: 'consulta_status', medicoId: 'm1', inicio: 'a2', fim: 'b2', consultaId: 'c1', status: 'confirmada', encaixe: false },
      ocupado('m1', '09:20', 'c2'),
    ]);
    expect(out.refetch).toBe(true);
    expect(out.day.consultas.get('c1')).toMatchObject({ status: 'confirmada', inicio: 'a2' });
    expect(before.consultas.get('c1')!.status).toBe('agendada');
    expect(out.day.vagas.size).toBe(0); // offered, then taken in the same batch
  });

  it('when no grid is loaded yet, then vagas and statuses still apply and slot events wait for nothing', () => {
    const out = applyBatch({ grid: null, consultas: new Map(), vagas: new Map() }, [
      ocupado('m1', '09:00', 'c1'),
      { type: 'vaga_disponivel', medicoId: 'm1', inicio: 'i', fim: 'f', listaEsperaIds: ['l1'] },
    ]);
    expect(out.day.grid).toBeNull();
    expect([...out.day.vagas.keys()]).toEqual(['l1']);
  });
});

describe('batching and coalescing', () => {
  it('when 100 items are pushed before the frame, then they are flushed once, in order; after close, never', () => {
    const frames = manual();
    const flushed: number[][] = [];
    const batch = new FrameBatch<number>((items) => flushed.push(items), frames.schedule);
    for (let i = 0; i < 100; i++) batch.push(i);
    expect(frames.size).toBe(1);
    frames.runAll();
    expect(flushed).toEqual([Array.from({ length: 100 }, (_, i) => i)]);
    batch.push(1);
    batch.close();
    frames.runAll();
    expect(flushed).toHaveLength(1);
  });

  it('when ids keep coming while a fetch is in flight, then they wait and go together in the next one', async () => {
    const timer = manual();
    const calls: string[][] = [];
    let release!: () => void;
    const fetcher = new IdBatcher((ids) => {
      calls.push(ids);
      return new Promise<void>((resolve) => (release = resolve));
    }, timer.schedule);
    fetcher.add(['a', 'b']);
    fetcher.add(['b', 'c']);
    timer.runAll();
    expect(calls).toEqual([['a', 'b', 'c']]);
    for (let i = 0; i < 50; i++) fetcher.add([`x${i}`]);
    expect(timer.size).toBe(0); // nothing scheduled while one is in flight
    release();
    await new Promise((resolve) => setTimeout(resolve, 0));
    timer.runAll();
    expect(calls).toHaveLength(2);
    expect(calls[1]).toHaveLength(50);
  });

  it('when more ids wait than a batch takes, then they go in turns of at most that many', async () => {
    const timer = manual();
    const calls: string[][] = [];
    const fetcher = new IdBatcher(async (ids) => void calls.push(ids), timer.schedule, 10);
    fetcher.add(Array.from({ length: 25 }, (_, i) => `p${i}`));
    for (let turn = 0; turn < 3; turn++) {
      timer.runAll();
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    expect(calls.map((ids) => ids.length)).toEqual([10, 10, 5]);
    expect(new Set(calls.flat()).size).toBe(25);
  });

  it('when reloads are asked for during a load, then exactly one more load runs after it; a restart supersedes the one in flight', async () => {
    const runs: Array<{ isCurrent: () => boolean; finish: () => void }> = [];
    const loads = new LoadCoalescer((isCurrent) => new Promise<void>((finish) => runs.push({ isCurrent, finish })));
    const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
    loads.request();
    for (let i = 0; i < 100; i++) loads.request();
    expect(runs).toHaveLength(1);
    runs[0]!.finish();
    await settle();
    expect(runs).toHaveLength(2);
    runs[1]!.finish();
    await settle();
    expect(runs).toHaveLength(2);

    loads.request();
    loads.restart();
    expect(runs).toHaveLength(4);
    expect(runs[2]!.isCurrent()).toBe(false);
    expect(runs[3]!.isCurrent()).toBe(true);
    runs[2]!.finish();
    await settle();
    loads.request();
    expect(runs).toHaveLength(4); // the restarted load is still in flight: this one waits for it
    runs[3]!.finish();
    await settle();
    expect(runs).toHaveLength(5);
  });
});
