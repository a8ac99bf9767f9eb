/**
 * The day view's data, apart from rendering: built from the API's answers and changed by the agenda stream's
 * events. Pure (no DOM, no fetch) so `tests/web/grid.test.ts` checks it directly. Immutable: every change
 * returns a new grid, so the view re-renders only what changed.
 */
import type { AgendaEstado } from '../../../src/schemas/agenda.schema.js';
import type { StatusConsulta } from '../../../src/schemas/consulta.schema.js';

export type { AgendaEstado, StatusConsulta };

export interface SlotView {
  medicoId: string;
  /** The API's instant string, as `data-inicio` carries it. */
  inicio: string;
  fim: string;
  /** `HH:MM` in the clinic's zone, formatted once when the grid is built (not on every render). */
  hora: string;
  estado: AgendaEstado;
  consultaId: string | null;
  motivo?: string | undefined;
}

export interface EncaixeView {
  consultaId: string;
  inicio: string;
  fim: string;
}

export interface MedicoColumn {
  medicoId: string;
  nome: string;
  especialidade: string;
  slots: SlotView[];
  encaixes: EncaixeView[];
}

export interface DayGrid {
  /** The day shown (AAAA-MM-DD, in the clinic's zone). */
  data: string;
  timezone: string;
  columns: MedicoColumn[];
}

/** What the grid needs of a médico and of its agenda (`GET /medicos`, `GET /medicos/{id}/agenda`). */
export interface MedicoInfo {
  id: string;
  nome: string;
  especialidade: string;
}
export interface AgendaInfo {
  medicoId: string;
  timezone: string;
  slots: Array<{ inicio: string; fim: string; estado: AgendaEstado; consultaId: string | null; motivo?: string | undefined }>;
  encaixes: EncaixeView[];
}

/** Events of `/sistema/agenda/stream`, as the browser parses their `data`. */
export type StreamEvent =
  | { type: 'horario_reservado' | 'horario_ocupado' | 'horario_disponivel'; medicoId: string; inicio: string; fim: string; estado: 'disponivel' | 'reservado' | 'ocupado'; consultaId?: string }
  | { type: 'consulta_status'; medicoId: string; inicio: string; fim: string; consultaId: string; status: StatusConsulta; encaixe: boolean }
  | { type: 'vaga_disponivel'; medicoId: string; inicio: string; fim: string; listaEsperaIds: string[] }
  | { type: 'agenda_alterada'; medicoId?: string }
  | { type: 'resync' };

/** The same instant written two ways (`-03:00` vs `Z`) is the same slot: compare by epoch ms. */
export function sameInstant(a: string, b: string): boolean {
  return Date.parse(a) === Date.parse(b);
}

/** The browser's own IANA zone: the best guess of the clinic's before the API has said which it is. */
export function browserTimeZone(): string {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/**
 * Columns in the order of `medicos` (only those with an agenda), slots and encaixes by time. The zone is the
 * one the agendas carry (the clinic's, `CLINIC_TZ` on the server); `fallbackTz` only matters with no agenda.
 */
export function buildGrid(data: string, medicos: readonly MedicoInfo[], agendas: readonly AgendaInfo[], fallbackTz = browserTimeZone()): DayGrid {
  const timezone = agendas[0]?.timezone ?? fallbackTz;
  const hhmm = formatter('time', timezone);
  const byMedico = new Map(agendas.map((a) => [a.medicoId, a]));
  const columns: MedicoColumn[] = [];
  for (const medico of medicos) {
    const agenda = byMedico.get(medico.id);
    if (!agenda) continue;
    const slots = agenda.slots.map((s) => {
      const inicioMs = Date.parse(s.inicio);
      return { inicioMs, slot: { medicoId: medico.id, inicio: s.inicio, fim: s.fim, hora: hhmm.format(inicioMs), estado: s.estado, consultaId: s.consultaId, motivo: s.motivo } };
    });
    // The API already answers in time order; sorting on parsed numbers keeps that cheap if it ever does not.
    slots.sort((a, b) => a.inicioMs - b.inicioMs);
    columns.push({
      medicoId: medico.id,
      nome: medico.nome,
      especialidade: medico.especialidade,
      slots: slots.map((s) => s.slot),
      encaixes: [...agenda.encaixes].sort(byInicio),
    });
  }
  return { data, timezone, columns };
}

/**
 * The slot to bring into view when today is shown: the one running now, else the next to start, taken
 * across columns (the earliest), or null when the day is over or has no slots.
 */
export function slotAtOrAfter(grid: DayGrid, nowMs: number): SlotView | null {
  let best: SlotView | null = null;
  let bestMs = Infinity;
  for (const column of grid.columns) {
    const slot = column.slots.find((s) => Date.parse(s.fim) > nowMs);
    if (!slot) continue;
    const startMs = Math.max(Date.parse(slot.inicio), nowMs);
    if (startMs < bestMs) [best, bestMs] = [slot, startMs];
  }
  return best;
}

function byInicio(a: { inicio: string }, b: { inicio: string }): number {
  return Date.parse(a.inicio) - Date.parse(b.inicio);
}

/** What the view must do after an event: nothing, take the new grid, or fetch the day again. */
export type EventOutcome = { kind: 'ignore' } | { kind: 'update'; grid: DayGrid } | { kind: 'refetch' };

/** The day (AAAA-MM-DD) an instant falls on in `timezone`. */
export function dayInZone(instant: string, timezone: string): string {
  return formatter('day', timezone).format(new Date(instant));
}

/** `HH:MM` of an instant in `timezone`. */
export function timeInZone(instant: string, timezone: string): string {
  return formatter('time', timezone).format(new Date(instant));
}

/**
 * Formatters are made once per zone: building an `Intl.DateTimeFormat` costs far more than using one, and the
 * grid formats every slot's time on each render (1,000+ slots, a render per stream event).
 */
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(kind: 'day' | 'time', timezone: string): Intl.DateTimeFormat {
  const key = `${kind}|${timezone}`;
  let f = formatters.get(key);
  if (!f) {
    f = kind === 'day'
      ? new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' })
      : new Intl.DateTimeFormat('pt-BR', { timeZone: timezone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(key, f);
  }
  return f;
}

/**
 * Applies one stream event to the grid. Slot events change that slot in place (events of other days or
 * médicos find no slot and are ignored; a slot already `passado` keeps showing so, only its consulta changes);
 * `consulta_status` of an encaixe adds, moves or (cancelada) removes it from its column; `resync` and
 * `agenda_alterada` of a shown médico (or of all) ask for a refetch.
 */
export function applyEvent(grid: DayGrid, event: StreamEvent): EventOutcome {
  switch (event.type) {
    case 'resync':
      return { kind: 'refetch' };
    case 'agenda_alterada':
      return event.medicoId === undefined || grid.columns.some((c) => c.medicoId === event.medicoId) ? { kind: 'refetch' } : { kind: 'ignore' };
    case 'vaga_disponivel':
      return { kind: 'ignore' };
    case 'consulta_status': {
      if (!event.encaixe) return { kind: 'ignore' };
      const index = grid.columns.findIndex((c) => c.medicoId === event.medicoId);
      if (index < 0) return { kind: 'ignore' };
      const column = grid.columns[index]!;
      const others = column.encaixes.filter((e) => e.consultaId !== event.consultaId);
      const onThisDay = dayInZone(event.inicio, grid.timezone) === grid.data;
      const encaixes = event.status === 'cancelada' || !onThisDay ? others : [...others, { consultaId: event.consultaId, inicio: event.inicio, fim: event.fim }].sort(byInicio);
      if (encaixes.length === column.encaixes.length && others.length === column.encaixes.length) return { kind: 'ignore' };
      return { kind: 'update', grid: replaceColumn(grid, index, { ...column, encaixes }) };
    }
    default: {
      const index = grid.columns.findIndex((c) => c.medicoId === event.medicoId);
      if (index < 0) return { kind: 'ignore' };
      const column = grid.columns[index]!;
      // The stream writes instants as the agenda does: compare strings first, parse only when they differ.
      let slotIndex = column.slots.findIndex((s) => s.inicio === event.inicio);
      if (slotIndex < 0) slotIndex = column.slots.findIndex((s) => sameInstant(s.inicio, event.inicio));
      if (slotIndex < 0) return { kind: 'ignore' };
      const slot = column.slots[slotIndex]!;
      const consultaId = event.estado === 'disponivel' ? null : (event.consultaId ?? slot.consultaId);
      const estado: AgendaEstado = slot.estado === 'passado' || slot.estado === 'bloqueado' ? slot.estado : event.estado;
      if (estado === slot.estado && consultaId === slot.consultaId) return { kind: 'ignore' };
      const slots = column.slots.slice();
      slots[slotIndex] = { ...slot, estado, consultaId };
      return { kind: 'update', grid: replaceColumn(grid, index, { ...column, slots }) };
    }
  }
}

function replaceColumn(grid: DayGrid, index: number, column: MedicoColumn): DayGrid {
  const columns = grid.columns.slice();
  columns[index] = column;
  return { ...grid, columns };
}

/** The consulta ids the grid shows (occupied slots and encaixes): whose pacientes the view needs to name. */
export function consultaIdsOf(grid: DayGrid): string[] {
  const ids = new Set<string>();
  for (const column of grid.columns) {
    for (const slot of column.slots) if (slot.consultaId) ids.add(slot.consultaId);
    for (const encaixe of column.encaixes) ids.add(encaixe.consultaId);
  }
  return [...ids];
}

/** pt-BR word for each state: shown beside the colour, so colour is never the only signal. */
export const ESTADO_ROTULOS: Record<AgendaEstado, string> = {
  disponivel: 'Disponível',
  reservado: 'Reservado',
  ocupado: 'Ocupado',
  bloqueado: 'Bloqueado',
  passado: 'Passado',
};

/** `2026-12-01` plus `days` (negative goes back), by the calendar: no time zone involved. */
export function addDays(data: string, days: number): string {
  const d = new Date(`${data}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}
