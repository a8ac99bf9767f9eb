import { DateTime } from 'luxon';
import { formatInstant } from '../core/time.js';
import type { Medico } from '../schemas/medico.schema.js';

/** A slot as two instants, ms since the epoch. */
export interface SlotTime {
  inicioMs: number;
  fimMs: number;
}

type Schedule = Pick<Medico, 'horarios' | 'duracaoConsultaMin'>;

/**
 * The slots of one local date: each working interval of that weekday, read in the clinic's zone, cut into
 * `duracaoConsultaMin`-long pieces from its start; a remainder shorter than a slot is dropped.
 *
 * Cutting happens on real (absolute) time, so on a daylight-saving day an interval 01:00–04:00 holds as many
 * slots as it has real minutes: fewer when the clock jumps forward, more when it falls back. A start time that
 * does not exist that day (inside the forward jump) moves forward with the clock, as luxon resolves it.
 */
export function slotsForDate(medico: Schedule, date: string, zone: string): readonly SlotTime[] {
  // Stored médicos are frozen, so their slots for a date can be computed once and reused.
  if (!Object.isFrozen(medico)) return computeSlots(medico, date, zone);
  let byDate = cache.get(medico);
  if (!byDate) cache.set(medico, (byDate = new Map()));
  const key = `${zone}|${date}`;
  let slots = byDate.get(key);
  if (!slots) {
    if (byDate.size >= 1000) byDate.clear(); // bounded: a médico's dates, not every date ever asked for
    slots = Object.freeze(computeSlots(medico, date, zone));
    byDate.set(key, slots);
  }
  return slots;
}

const cache = new WeakMap<object, Map<string, readonly SlotTime[]>>();

function computeSlots(medico: Schedule, date: string, zone: string): SlotTime[] {
  const day = DateTime.fromISO(date, { zone });
  if (!day.isValid) return [];
  const diaSemana = day.weekday % 7; // luxon: 1 = Monday … 7 = Sunday; contract: 0 = domingo
  const stepMs = medico.duracaoConsultaMin * 60_000;
  const slots: SlotTime[] = [];
  for (const h of medico.horarios) {
    if (h.diaSemana !== diaSemana) continue;
    const start = wallClockToMs(date, h.inicio, zone, 'earliest');
    const end = wallClockToMs(date, h.fim, zone, 'latest');
    for (let t = start; t + stepMs <= end; t += stepMs) slots.push({ inicioMs: t, fimMs: t + stepMs });
  }
  return slots.sort((a, b) => a.inicioMs - b.inicioMs);
}

/**
 * The instant a wall-clock time has on a date in a zone. When the clock falls back a time happens twice:
 * a working interval starts at its first occurrence (`earliest`) and ends at its last (`latest`), so the
 * whole interval is worked. A time inside a forward jump does not exist; luxon moves it forward.
 */
export function wallClockToMs(date: string, time: string, zone: string, pick: 'earliest' | 'latest'): number {
  const resolved = DateTime.fromISO(`${date}T${time}`, { zone }).toMillis();
  const wall = `${date}T${time}`;
  // Zones shift by 30 or 60 minutes (a few by other amounts; those are resolved by luxon alone).
  const matches = [-3_600_000, -1_800_000, 0, 1_800_000, 3_600_000]
    .map((delta) => resolved + delta)
    .filter((ms) => DateTime.fromMillis(ms, { zone }).toFormat("yyyy-MM-dd'T'HH:mm") === wall);
  if (matches.length === 0) return resolved;
  return pick === 'earliest' ? Math.min(...matches) : Math.max(...matches);
}

/** Every date from `de` to `ate`, inclusive (`YYYY-MM-DD`). */
export function datesBetween(de: string, ate: string): string[] {
  const out: string[] = [];
  let day = DateTime.fromISO(de, { zone: 'UTC' });
  const last = DateTime.fromISO(ate, { zone: 'UTC' });
  while (day <= last) {
    out.push(day.toISODate()!);
    day = day.plus({ days: 1 });
  }
  return out;
}

/** The slot that starts exactly at `inicioMs`, if the médico has one. */
export function slotStartingAt(medico: Schedule, inicioMs: number, zone: string): SlotTime | undefined {
  const date = localDate(inicioMs, zone);
  return slotsForDate(medico, date, zone).find((s) => s.inicioMs === inicioMs);
}

/** The local date (`YYYY-MM-DD`) of an instant in a zone. */
export function localDate(ms: number, zone: string): string {
  return formatInstant(ms, zone).slice(0, 10);
}

/** The instant a local date starts in a zone. */
export function startOfDate(date: string, zone: string): number {
  return DateTime.fromISO(date, { zone }).startOf('day').toMillis();
}

/** The date after a date (`YYYY-MM-DD`). */
export function nextDate(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}
