import { describe, expect, it } from 'vitest';
import { addDays, applyEvent, buildGrid, consultaIdsOf, dayInZone, timeInZone, type AgendaInfo, type DayGrid } from '../../web/src/agenda/grid.js';
import { instantAt } from '../../web/src/agenda/time.js';

const TZ = 'America/Sao_Paulo';
const medicos = [
  { id: 'm2', nome: 'Bruno', especialidade: 'Pediatria' },
  { id: 'm1', nome: 'Ana', especialidade: 'Cardiologia' },
  { id: 'm3', nome: 'Sem agenda', especialidade: 'Clínica' },
];
const agendas: AgendaInfo[] = [
  {
    medicoId: 'm1',
    timezone: TZ,
    slots: [
      { inicio: '2026-12-01T09:30:00-03:00', fim: '2026-12-01T10:00:00-03:00', estado: 'ocupado', consultaId: 'c1' },
      { inicio: '2026-12-01T09:00:00-03:00', fim: '2026-12-01T09:30:00-03:00', estado: 'disponivel', consultaId: null },
      { inicio: '2026-12-01T10:00:00-03:00', fim: '2026-12-01T10:30:00-03:00', estado: 'bloqueado', consultaId: null, motivo: 'Congresso' },
    ],
    encaixes: [{ consultaId: 'e1', inicio: '2026-12-01T09:10:00-03:00', fim: '2026-12-01T09:25:00-03:00' }],
  },
  {
    medicoId: 'm2',
    timezone: TZ,
    slots: [{ inicio: '2026-12-01T08:00:00-03:00', fim: '2026-12-01T08:20:00-03:00', estado: 'passado', consultaId: null }],
    encaixes: [],
  },
];
const grid = (): DayGrid => buildGrid('2026-12-01', medicos, agendas);

describe('building the day grid from the API', () => {
  it('when agendas arrive in any order, then columns follow the médicos list, skip médicos without agenda, and slots are by time', () => {
    const g = grid();
    expect(g.columns.map((c) => c.medicoId)).toEqual(['m2', 'm1']);
    expect(g.columns[1]!.slots.map((s) => [s.inicio.slice(11, 16), s.estado, s.consultaId])).toEqual([
      ['09:00', 'disponivel', null],
      ['09:30', 'ocupado', 'c1'],
      ['10:00', 'bloqueado', null],
    ]);
    expect(g.columns[1]!.slots[2]!.motivo).toBe('Congresso');
    expect(g.columns[1]!.slots.every((s) => s.medicoId === 'm1')).toBe(true);
    expect(g.timezone).toBe(TZ);
    expect(consultaIdsOf(g).sort()).toEqual(['c1', 'e1']);
  });
});

describe('applying stream events to the grid', () => {
  it('when a free slot is booked, then only that slot turns ocupado with its consulta, and the old grid is untouched', () => {
    const before = grid();
    const out = applyEvent(before, { type: 'horario_ocupado', medicoId: 'm1', inicio: '2026-12-01T12:00:00.000Z', fim: '2026-12-01T12:30:00.000Z', estado: 'ocupado', consultaId: 'c9' });
    expect(out.kind).toBe('update');
    if (out.kind !== 'update') return;
    expect(out.grid.columns[1]!.slots[0]).toMatchObject({ estado: 'ocupado', consultaId: 'c9' });
    expect(before.columns[1]!.slots[0]).toMatchObject({ estado: 'disponivel', consultaId: null });
    expect(out.grid.columns[0]).toBe(before.columns[0]);
  });

  it('when a slot frees, then it is disponivel with no consulta', () => {
    const out = applyEvent(grid(), { type: 'horario_disponivel', medicoId: 'm1', inicio: '2026-12-01T09:30:00-03:00', fim: '2026-12-01T10:00:00-03:00', estado: 'disponivel' });
    expect(out.kind === 'update' && out.grid.columns[1]!.slots[1]).toMatchObject({ estado: 'disponivel', consultaId: null });
  });

  it('when the event is of another day, another médico, or repeats the state, then it is ignored', () => {
    const g = grid();
    expect(applyEvent(g, { type: 'horario_ocupado', medicoId: 'm1', inicio: '2026-12-02T09:00:00-03:00', fim: '2026-12-02T09:30:00-03:00', estado: 'ocupado', consultaId: 'x' }).kind).toBe('ignore');
    expect(applyEvent(g, { type: 'horario_ocupado', medicoId: 'm9', inicio: '2026-12-01T09:00:00-03:00', fim: '2026-12-01T09:30:00-03:00', estado: 'ocupado', consultaId: 'x' }).kind).toBe('ignore');
    expect(applyEvent(g, { type: 'horario_ocupado', medicoId: 'm1', inicio: '2026-12-01T09:30:00-03:00', fim: '2026-12-01T10:00:00-03:00', estado: 'ocupado', consultaId: 'c1' }).kind).toBe('ignore');
  });

  it('when a past or blocked slot gets an event, then it keeps showing passado or bloqueado', () => {
    const out = applyEvent(grid(), { type: 'horario_ocupado', medicoId: 'm2', inicio: '2026-12-01T08:00:00-03:00', fim: '2026-12-01T08:20:00-03:00', estado: 'ocupado', consultaId: 'c5' });
    expect(out.kind === 'update' && out.grid.columns[0]!.slots[0]).toMatchObject({ estado: 'passado', consultaId: 'c5' });
  });

  it('when an encaixe is booked, moved or cancelled, then the column’s encaixes follow; a regular consulta_status changes no slot', () => {
    let g = grid();
    const add = applyEvent(g, { type: 'consulta_status', medicoId: 'm1', inicio: '2026-12-01T08:50:00-03:00', fim: '2026-12-01T09:05:00-03:00', consultaId: 'e2', status: 'agendada', encaixe: true });
    expect(add.kind).toBe('update');
    if (add.kind === 'update') g = add.grid;
    expect(g.columns[1]!.encaixes.map((e) => e.consultaId)).toEqual(['e2', 'e1']);
    const cancel = applyEvent(g, { type: 'consulta_status', medicoId: 'm1', inicio: '2026-12-01T09:10:00-03:00', fim: '2026-12-01T09:25:00-03:00', consultaId: 'e1', status: 'cancelada', encaixe: true });
    expect(cancel.kind === 'update' && cancel.grid.columns[1]!.encaixes.map((e) => e.consultaId)).toEqual(['e2']);
    const otherDay = applyEvent(g, { type: 'consulta_status', medicoId: 'm1', inicio: '2026-12-05T09:10:00-03:00', fim: '2026-12-05T09:25:00-03:00', consultaId: 'e3', status: 'agendada', encaixe: true });
    expect(otherDay.kind).toBe('ignore');
    expect(applyEvent(g, { type: 'consulta_status', medicoId: 'm1', inicio: '2026-12-01T09:30:00-03:00', fim: '2026-12-01T10:00:00-03:00', consultaId: 'c1', status: 'confirmada', encaixe: false }).kind).toBe('ignore');
  });

  it('when resync or agenda_alterada of a shown médico (or of all) arrives, then the day is refetched; of another médico, ignored', () => {
    const g = grid();
    expect(applyEvent(g, { type: 'resync' }).kind).toBe('refetch');
    expect(applyEvent(g, { type: 'agenda_alterada' }).kind).toBe('refetch');
    expect(applyEvent(g, { type: 'agenda_alterada', medicoId: 'm2' }).kind).toBe('refetch');
    expect(applyEvent(g, { type: 'agenda_alterada', medicoId: 'm9' }).kind).toBe('ignore');
  });
});

describe('clinic time', () => {
  it('when instants are shown, then day and HH:MM are those of the clinic zone', () => {
    expect(dayInZone('2026-12-02T01:00:00Z', TZ)).toBe('2026-12-01');
    expect(timeInZone('2026-12-01T12:05:00Z', TZ)).toBe('09:05');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
  });

  it('when a wall-clock time is typed, then it becomes an instant with the zone’s offset', () => {
    expect(instantAt('2026-12-01', '09:15', TZ)).toBe('2026-12-01T09:15:00-03:00');
    expect(Date.parse(instantAt('2026-07-01', '23:30', 'Europe/Lisbon'))).toBe(Date.parse('2026-07-01T22:30:00Z'));
  });
});
