import { DateTime } from 'luxon';
import type { ListaEsperaRecord } from '../schemas/lista-espera.schema.js';

/** A waiting-list entry's window in ms since the epoch: [deMs, ateMs). */
export interface Janela {
  deMs: number;
  ateMs: number;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Where a window bound lies in time. A date means the whole day in the clinic's zone: `de` is its first
 * instant, `ate` the first instant of the next day (so `de = ate = 2026-12-07` is that one day).
 */
export function limiteMs(value: string, bound: 'de' | 'ate', zone: string): number {
  if (!DATE_ONLY.test(value)) return Date.parse(value);
  const day = DateTime.fromISO(value, { zone }).startOf('day');
  return (bound === 'de' ? day : day.plus({ days: 1 })).toMillis();
}

/**
 * Entries' windows as instants. Parsed windows are kept per record object: a driver that keeps records in
 * memory (JSON) hands out the same frozen object each time, so a freed slot does not parse every entry's
 * dates again; a driver that reads fresh objects (PostgreSQL) simply parses once per read.
 */
export class Janelas {
  private readonly parsed = new WeakMap<ListaEsperaRecord, Janela>();

  constructor(private readonly timezone: string) {}

  of(entry: ListaEsperaRecord): Janela {
    let janela = this.parsed.get(entry);
    if (!janela) {
      janela = { deMs: limiteMs(entry.de, 'de', this.timezone), ateMs: limiteMs(entry.ate, 'ate', this.timezone) };
      this.parsed.set(entry, janela);
    }
    return janela;
  }
}
