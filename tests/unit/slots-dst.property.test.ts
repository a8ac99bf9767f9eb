import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatInstant } from '../../src/core/time.js';
import { slotsForDate } from '../../src/domain/slots.js';

/**
 * Property: whatever the zone, the working intervals and the date (around each zone's daylight-saving changes),
 * one day's slots never overlap, never repeat an instant, and every moment of a slot is worked time of one of
 * its intervals: at or after the interval's start (its first occurrence) and before its end (its last one).
 */
const ZONES: Record<string, string[]> = {
  'America/New_York': ['2027-03-14', '2027-11-07', '2028-03-12', '2028-11-05'],
  'America/Santiago': ['2027-04-03', '2027-04-04', '2027-09-04', '2027-09-05'],
  'Europe/Lisbon': ['2027-03-28', '2027-10-31', '2028-03-26', '2028-10-29'],
  'Australia/Lord_Howe': ['2027-04-04', '2027-10-03', '2028-04-02', '2028-10-01'],
};

const wall = (ms: number, zone: string) => formatInstant(ms, zone).slice(0, 16);
const hhmm = (m: number) => (m === 1440 ? '24:00' : `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`);

/** Up to four non-overlapping intervals of one day, as minute pairs, some adjacent, some ending at 24:00. */
const intervals = fc
  .uniqueArray(fc.integer({ min: 0, max: 1440 }), { minLength: 2, maxLength: 8 })
  .map((cuts) => cuts.sort((a, b) => a - b))
  .chain((cuts) =>
    fc.array(fc.boolean(), { minLength: cuts.length, maxLength: cuts.length }).map((keep) => {
      const out: [number, number][] = [];
      for (let i = 0; i + 1 < cuts.length; i++) if (keep[i] || i === 0) out.push([cuts[i]!, cuts[i + 1]!]);
      return out;
    }),
  );

/** The real-time bounds an interval may use that day, found by walking the day minute by minute. */
function bounds(date: string, zone: string, inicio: number, fim: number): { from: number; to: number } {
  const dayStartGuess = Date.parse(`${date}T00:00:00Z`) - 16 * 3_600_000;
  let from = Infinity;
  let to = -Infinity;
  const start = `${date}T${hhmm(inicio)}`;
  const end = fim === 1440 ? `${date}T24:00` : `${date}T${hhmm(fim)}`;
  for (let t = dayStartGuess; t < dayStartGuess + 64 * 3_600_000; t += 60_000) {
    const w = wall(t, zone);
    if (!w.startsWith(date)) continue;
    if (w >= start && w < end) {
      from = Math.min(from, t);
      to = Math.max(to, t + 60_000);
    }
  }
  return { from, to };
}

describe('slots of a day, whatever the zone (property)', () => {
  for (const [zone, dates] of Object.entries(ZONES)) {
    it(`when intervals are cut in ${zone} around its transitions, then slots never overlap, repeat or leave their interval`, () => {
      fc.assert(
        fc.property(intervals, fc.constantFrom(...dates), fc.constantFrom(5, 10, 15, 20, 30, 45, 60, 90), (pairs, date, duracao) => {
          const weekday = new Date(`${date}T00:00:00Z`).getUTCDay();
          const medico = { duracaoConsultaMin: duracao, horarios: pairs.map(([a, b]) => ({ diaSemana: weekday, inicio: hhmm(a), fim: hhmm(b) })) };
          const slots = slotsForDate(medico, date, zone);
          const allowed = pairs.map(([a, b]) => bounds(date, zone, a, b));
          for (let i = 0; i < slots.length; i++) {
            const s = slots[i]!;
            expect(s.fimMs - s.inicioMs).toBe(duracao * 60_000);
            if (i > 0) expect(s.inicioMs).toBeGreaterThanOrEqual(slots[i - 1]!.fimMs); // sorted, no overlap, no repeat
            expect(allowed.some((b) => s.inicioMs >= b.from && s.fimMs <= b.to)).toBe(true);
          }
        }),
        { numRuns: 150 },
      );
    }, 60_000); // the reference walks each day minute by minute: seconds on a busy machine
  }

  it('when New York falls back, then adjacent intervals 00:00–01:30 and 01:30–03:00 give 8 slots for 8 instants', () => {
    const medico = { duracaoConsultaMin: 30, horarios: [{ diaSemana: 0, inicio: '00:00', fim: '01:30' }, { diaSemana: 0, inicio: '01:30', fim: '03:00' }] };
    const slots = slotsForDate(medico, '2027-11-07', 'America/New_York');
    expect(slots).toHaveLength(8);
    expect(new Set(slots.map((s) => s.inicioMs)).size).toBe(8);
  });

  it('when New York falls back from 02:00 to 01:00, then 00:00–01:00 ends at the first 01:00 (found by the property, seed -268215207)', () => {
    const medico = { duracaoConsultaMin: 5, horarios: [{ diaSemana: 0, inicio: '00:00', fim: '01:00' }] };
    const slots = slotsForDate(medico, '2028-11-05', 'America/New_York');
    expect(slots).toHaveLength(12);
    expect(slots.at(-1)!.fimMs).toBe(Date.parse('2028-11-05T05:00:00Z')); // 01:00 EDT
  });

  it('when New York springs forward, then 00:00–02:30 ends at the jump and offers no 03:00', () => {
    const medico = { duracaoConsultaMin: 30, horarios: [{ diaSemana: 0, inicio: '00:00', fim: '02:30' }] };
    const slots = slotsForDate(medico, '2027-03-14', 'America/New_York');
    expect(slots.map((s) => formatInstant(s.inicioMs, 'America/New_York'))).toEqual([
      '2027-03-14T00:00:00-05:00', '2027-03-14T00:30:00-05:00', '2027-03-14T01:00:00-05:00', '2027-03-14T01:30:00-05:00',
    ]);
  });

  it('when an interval ends at 24:00, then its last slot ends at the next midnight', () => {
    const medico = { duracaoConsultaMin: 30, horarios: [{ diaSemana: 1, inicio: '23:00', fim: '24:00' }] };
    const slots = slotsForDate(medico, '2026-12-07', 'America/Sao_Paulo');
    expect(slots.map((s) => formatInstant(s.fimMs, 'America/Sao_Paulo'))).toEqual(['2026-12-07T23:30:00-03:00', '2026-12-08T00:00:00-03:00']);
  });
});
