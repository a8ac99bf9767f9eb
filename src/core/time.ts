import { DateTime } from 'luxon';

/**
 * Instants leave the API as ISO 8601 with the clinic's offset (`2026-12-01T09:00:00-03:00`).
 * Luxon resolves offsets from the IANA database, so daylight-saving changes are handled for us.
 */
export function formatInstant(instant: Date | number, zone: string): string {
  const dt = DateTime.fromMillis(typeof instant === 'number' ? instant : instant.getTime(), { zone });
  return dt.toISO({ suppressMilliseconds: true }) ?? new Date(instant).toISOString();
}

/** Today's date (`YYYY-MM-DD`) in the clinic's zone. */
export function todayIn(zone: string, now: Date): string {
  return DateTime.fromJSDate(now, { zone }).toISODate() ?? now.toISOString().slice(0, 10);
}
