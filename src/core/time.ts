import { DateTime } from 'luxon';

/**
 * Instants leave the API as ISO 8601 with the clinic's offset (`2026-12-01T09:00:00-03:00`).
 * Luxon resolves offsets from the IANA database, so daylight-saving changes are handled for us.
 *
 * Formatting is on every hot path (each slot, event and record carries instants), and a luxon DateTime
 * costs microseconds, so the offset is looked up once per zone and quarter hour (no zone changes its offset
 * other than on a quarter hour) and the string is built from it.
 */
const offsets = new Map<string, number>();
const QUARTER_MS = 15 * 60_000;

function offsetMinutes(ms: number, zone: string): number {
  const key = `${zone}|${Math.floor(ms / QUARTER_MS)}`;
  let offset = offsets.get(key);
  if (offset === undefined) {
    if (offsets.size > 50_000) offsets.clear(); // bounded memory
    offset = DateTime.fromMillis(ms, { zone }).offset;
    offsets.set(key, offset);
  }
  return offset;
}

export function formatInstant(instant: Date | number, zone: string): string {
  const ms = typeof instant === 'number' ? instant : instant.getTime();
  const offset = offsetMinutes(ms, zone);
  const local = new Date(ms + offset * 60_000).toISOString(); // wall time, spelled as if UTC
  const seconds = ms % 1000 === 0 ? local.slice(0, 19) : local.slice(0, 23);
  if (offset === 0 && zone === 'UTC') return `${seconds}Z`;
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return `${seconds}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** Today's date (`YYYY-MM-DD`) in the clinic's zone. */
export function todayIn(zone: string, now: Date): string {
  return formatInstant(now, zone).slice(0, 10);
}
