import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { formatInstant, todayIn } from '../../src/core/time.js';

describe('formatInstant', () => {
  it('when compared with luxon over two years of quarter hours in zones with DST, then it agrees', () => {
    for (const zone of ['America/Sao_Paulo', 'America/New_York', 'Europe/Lisbon', 'Australia/Lord_Howe', 'Asia/Kolkata']) {
      for (let ms = Date.parse('2026-01-01T00:00:00Z'); ms < Date.parse('2028-01-01T00:00:00Z'); ms += 15 * 60_000 + 7_000) {
        const expected = DateTime.fromMillis(ms - (ms % 1000), { zone }).toISO({ suppressMilliseconds: true });
        expect(formatInstant(ms - (ms % 1000), zone)).toBe(expected);
      }
    }
  }, 120_000); // 350k comparisons: seconds on a quiet machine, much longer on a loaded one

  it('when the year has fewer than four digits, then it is spelled as luxon spells it', () => {
    const ms = Date.parse('0999-06-01T12:00:00Z');
    expect(formatInstant(ms, 'America/Sao_Paulo')).toBe(DateTime.fromMillis(ms, { zone: 'America/Sao_Paulo' }).toISO({ suppressMilliseconds: true }));
  });

  it('when the instant has milliseconds, then they are kept', () => {
    expect(formatInstant(Date.parse('2026-12-01T12:00:00.123Z'), 'America/Sao_Paulo')).toBe('2026-12-01T09:00:00.123-03:00');
  });

  it('when the zone is UTC, then Z is used as luxon does', () => {
    expect(formatInstant(Date.parse('2026-12-01T12:00:00Z'), 'UTC')).toBe('2026-12-01T12:00:00Z');
    expect(todayIn('America/Sao_Paulo', new Date('2026-03-01T02:00:00Z'))).toBe('2026-02-28');
  });
});
