import { DateTime } from 'luxon';

/**
 * Instants leave the API as ISO 8601 with the clinic's offset (`2026-12-01T09:00:00-03:00`).
 * Luxon resolves offsets from the IANA database, so daylight-saving changes are handled for us.
 *
 * Formatting is on every hot path (each slot, event and record carries instants), and a luxon DateTime
 * costs microseconds, so the offset is looked up once per zone and quarter hour (no zone changes its offset
 * other than on a quarter hour) and the string is built from it.
 */
const QUARTER_MS = 15 * 60_000;
/** zone → quarter hour (ms / 15 min) → offset in minutes; numeric keys, bounded. */
const offsets = new Map<string, Map<number, number>>();
/** offset in minutes → `-03:00` */
const suffixes = new Map<number, string>();
const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));

function offsetMinutes(ms: number, zone: string): number {
  let byQuarter = offsets.get(zone);
  if (!byQuarter) offsets.set(zone, (byQuarter = new Map()));
  const quarter = Math.floor(ms / QUARTER_MS);
  let offset = byQuarter.get(quarter);
  if (offset === undefined) {
    if (byQuarter.size > 50_000) byQuarter.clear(); // bounded memory
    offset = DateTime.fromMillis(ms, { zone }).offset;
    byQuarter.set(quarter, offset);
  }
  return offset;
}

function suffix(offset: number, zone: string): string {
  if (offset === 0 && zone === 'UTC') return 'Z';
  let text = suffixes.get(offset);
  if (text === undefined) {
    const abs = Math.abs(offset);
    // Historical (LMT) offsets have seconds: cut, as luxon does.
    text = `${offset < 0 ? '-' : '+'}${TWO_DIGITS[Math.trunc(abs / 60)]}:${TWO_DIGITS[Math.trunc(abs % 60)]}`;
    suffixes.set(offset, text);
  }
  return text;
}

export function formatInstant(instant: Date | number, zone: string): string {
  const ms = typeof instant === 'number' ? instant : instant.getTime();
  const offset = offsetMinutes(ms, zone);
  const local = new Date(ms + offset * 60_000); // wall time, read through the UTC getters
  const year = local.getUTCFullYear();
  if (year < 1000 || year > 9999) {
    const iso = local.toISOString();
    return (ms % 1000 === 0 ? iso.slice(0, -5) : iso.slice(0, -1)) + suffix(offset, zone);
  }
  const millis = local.getUTCMilliseconds();
  return (
    `${year}-${TWO_DIGITS[local.getUTCMonth() + 1]}-${TWO_DIGITS[local.getUTCDate()]}` +
    `T${TWO_DIGITS[local.getUTCHours()]}:${TWO_DIGITS[local.getUTCMinutes()]}:${TWO_DIGITS[local.getUTCSeconds()]}` +
    (millis === 0 ? '' : `.${String(millis).padStart(3, '0')}`) +
    suffix(offset, zone)
  );
}

/** Today's date (`YYYY-MM-DD`) in the clinic's zone. */
export function todayIn(zone: string, now: Date): string {
  return formatInstant(now, zone).slice(0, 10);
}

/**
 * ms since the epoch of a stored instant. Every stored instant is `YYYY-MM-DDTHH:mm:ss±HH:MM` (formatInstant),
 * read here digit by digit; anything else goes to `Date.parse`. V8's `Date.parse` takes about 1.5 µs on such a
 * string: a GET /horarios-livres that walks a month of 50 fully booked médicos parses 200k of them, and spent
 * most of its time there.
 */
export function instantMs(text: string): number {
  if (text.length === 25 && text.charCodeAt(10) === 84 /* T */ && text.charCodeAt(22) === 58 /* : */) {
    const sign = text.charCodeAt(19) === 45 /* - */ ? -1 : text.charCodeAt(19) === 43 /* + */ ? 1 : NaN;
    const local = Date.UTC(digits(text, 0, 4), digits(text, 5, 2) - 1, digits(text, 8, 2), digits(text, 11, 2), digits(text, 14, 2), digits(text, 17, 2));
    const ms = local - sign * (digits(text, 20, 2) * 60 + digits(text, 23, 2)) * 60_000;
    if (!Number.isNaN(ms)) return ms;
  }
  return Date.parse(text);
}

/** The number written by `length` ASCII digits from `start`, or NaN. */
function digits(text: string, start: number, length: number): number {
  let value = 0;
  for (let i = start; i < start + length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    value = value * 10 + d;
  }
  return value;
}
