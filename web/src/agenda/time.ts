/**
 * Wall-clock time in the clinic's zone to an instant with its offset (`2026-12-01T09:00:00-03:00`), as the API
 * takes it. Pure; the offset is the zone's at that moment (DST-safe for the hours a clinic works).
 */
export function instantAt(data: string, hhmm: string, timezone: string): string {
  const guess = Date.parse(`${data}T${hhmm}:00Z`);
  const offsetMin = zoneOffsetMinutes(guess, timezone);
  // The offset at the guessed UTC instant may differ from the one at the local time near a DST change: re-check.
  const offset2 = zoneOffsetMinutes(guess - offsetMin * 60_000, timezone);
  const sign = offset2 < 0 ? '-' : '+';
  const abs = Math.abs(offset2);
  return `${data}T${hhmm}:00${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** Minutes east of UTC of `timezone` at `epochMs` (São Paulo: -180). */
export function zoneOffsetMinutes(epochMs: number, timezone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(new Date(epochMs));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((asUtc - Math.floor(epochMs / 1000) * 1000) / 60_000);
}

/** Today (AAAA-MM-DD) in `timezone`. */
export function todayIn(timezone: string, nowMs = Date.now()): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(nowMs));
}
