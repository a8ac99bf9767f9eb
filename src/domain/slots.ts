import { DateTime } from 'luxon';
import { formatInstant } from '../core/time.js';
import { CONSULTA_DURACAO_MAX_MIN } from '../schemas/consulta.schema.js';
import type { Medico } from '../schemas/medico.schema.js';

/**
 * The longest any consulta lasts (a médico's `duracaoConsultaMin`, or an encaixe's `duracaoMin`): how far back
 * a consulta overlapping an instant can have started. Every overlap query looks back this far, and no further; the
 * stored-record schemas refuse a longer one (a restore), as the API does.
 */
export const LONGEST_CONSULTA_MS = CONSULTA_DURACAO_MAX_MIN * 60_000;

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
 * does not exist that day (inside the forward jump) moves forward with the clock, as luxon resolves it; an end
 * that does not exist ends the interval at the jump ({@link intervalEndMs}), and `24:00` is the next midnight.
 * One day's slots are sorted, never overlap and never repeat an instant.
 */
export function slotsForDate(medico: Schedule, date: string, zone: string): readonly SlotTime[] {
  // A date's slots depend only on the schedule (hours and length), so they are computed once per schedule and
  // reused — whether the médico came from memory (JSON driver: the same frozen object every time) or from a
  // query (PostgreSQL: a new object each read, with the same schedule).
  const schedule = scheduleKey(medico);
  let byDate = cache.get(schedule);
  if (!byDate) {
    if (cache.size >= MAX_SCHEDULES) cache.clear(); // bounded: schedules in use, not every schedule ever seen
    cache.set(schedule, (byDate = new Map()));
  }
  const key = `${zone}|${date}`;
  let slots = byDate.get(key);
  if (!slots) {
    if (byDate.size >= 1000) byDate.clear(); // bounded: a schedule's dates, not every date ever asked for
    slots = Object.freeze(computeSlots(medico, date, zone));
    byDate.set(key, slots);
  }
  return slots;
}

const MAX_SCHEDULES = 1000;
const cache = new Map<string, Map<string, readonly SlotTime[]>>();
/** Keys of frozen (stored) médicos, so the JSON driver's hot path does not rebuild the string. */
const keys = new WeakMap<object, string>();

function scheduleKey(medico: Schedule): string {
  let key = keys.get(medico);
  if (key === undefined) {
    key = `${medico.duracaoConsultaMin}|${medico.horarios.map((h) => `${h.diaSemana},${h.inicio},${h.fim}`).join(';')}`;
    if (Object.isFrozen(medico)) keys.set(medico, key);
  }
  return key;
}

function computeSlots(medico: Schedule, date: string, zone: string): SlotTime[] {
  const stepMs = medico.duracaoConsultaMin * 60_000;
  const slots: SlotTime[] = [];
  for (const { inicioMs, fimMs } of workingIntervals(medico, date, zone)) {
    for (let t = inicioMs; t + stepMs <= fimMs; t += stepMs) slots.push({ inicioMs: t, fimMs: t + stepMs });
  }
  return slots;
}

/**
 * The médico's working intervals on a local date, in real time, sorted and never overlapping: each starts at
 * the first occurrence of its start time and ends where {@link intervalEndMs} says. When the clock falls back,
 * 00:00–01:30 ends at the second 01:30 and 01:30–03:00 would start at the first one: the second interval starts
 * where the first ended instead, so one day's slots never overlap nor repeat an instant.
 */
export function workingIntervals(medico: Pick<Medico, 'horarios'>, date: string, zone: string): SlotTime[] {
  const weekday = new Date(`${date}T00:00:00Z`).getUTCDay(); // 0 = domingo, as the contract counts
  if (Number.isNaN(weekday)) return [];
  const intervals = medico.horarios.filter((h) => h.diaSemana === weekday).sort((a, b) => (a.inicio < b.inicio ? -1 : 1));
  const out: SlotTime[] = [];
  let floor = -Infinity;
  for (const h of intervals) {
    const inicioMs = Math.max(wallClockToMs(date, h.inicio, zone, 'earliest'), floor);
    const fimMs = intervalEndMs(date, h.fim, zone);
    if (fimMs > inicioMs) out.push({ inicioMs, fimMs });
    floor = Math.max(floor, fimMs);
  }
  return out;
}

/**
 * Where a working interval ending at `time` on `date` ends in real time: the last moment the wall clock is
 * still before `time`. That is its last occurrence when the clock falls back; the instant of the jump when
 * `time` falls inside a forward jump (00:00–02:30 on a 02:00 → 03:00 night ends at the jump, not at 03:30);
 * and the start of the next day for `24:00`.
 */
export function intervalEndMs(date: string, time: string, zone: string): number {
  if (time === '24:00') return startOfDate(nextDate(date), zone);
  const wall = `${date}T${time}`;
  const resolved = DateTime.fromISO(wall, { zone }).toMillis();
  const matches = occurrences(resolved, wall, zone);
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    // The clock falls back over `time`: the interval ends after the last minute whose wall clock still reads
    // before `time`. 00:00–01:30 ends at the second 01:30 (01:00–01:29 happen twice); 00:00–01:00, when the
    // clock falls back from 02:00 to 01:00, ends at the first 01:00 (00:59 happens once).
    const [h, m] = time.split(':').map(Number) as [number, number];
    const before = h * 60 + m - 1;
    if (before < 0) return Math.min(...matches);
    const previous = `${date}T${String(Math.floor(before / 60)).padStart(2, '0')}:${String(before % 60).padStart(2, '0')}`;
    const lastMinute = occurrences(DateTime.fromISO(previous, { zone }).toMillis(), previous, zone);
    return lastMinute.length > 0 ? Math.max(...lastMinute) + 60_000 : Math.min(...matches);
  }
  // Inside a forward jump: luxon moved the time past the jump. The jump is the first minute, within the
  // three hours before, whose wall clock reads later than `time` (wall clocks only move forward there).
  let lo = resolved - 3 * 3_600_000; // reads earlier than `time`
  let hi = resolved; // reads later
  while (hi - lo > 60_000) {
    const mid = lo + Math.floor((hi - lo) / 120_000) * 60_000;
    if (wallOf(mid, zone) > wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * The instant a wall-clock time has on a date in a zone. When the clock falls back a time happens twice:
 * a working interval starts at its first occurrence (`earliest`); {@link intervalEndMs} ends it at its last.
 * A time inside a forward jump does not exist; luxon moves it forward.
 */
export function wallClockToMs(date: string, time: string, zone: string, pick: 'earliest' | 'latest'): number {
  const wall = `${date}T${time}`;
  const resolved = DateTime.fromISO(wall, { zone }).toMillis();
  const matches = occurrences(resolved, wall, zone);
  if (matches.length === 0) return resolved;
  return pick === 'earliest' ? Math.min(...matches) : Math.max(...matches);
}

/** The instants near `resolved` whose wall clock reads `wall` (zones shift by 30 or 60 minutes). */
function occurrences(resolved: number, wall: string, zone: string): number[] {
  return [-3_600_000, -1_800_000, 0, 1_800_000, 3_600_000].map((delta) => resolved + delta).filter((ms) => wallOf(ms, zone) === wall);
}

/** `YYYY-MM-DDTHH:mm` of an instant in a zone. */
function wallOf(ms: number, zone: string): string {
  return formatInstant(ms, zone).slice(0, 16);
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
