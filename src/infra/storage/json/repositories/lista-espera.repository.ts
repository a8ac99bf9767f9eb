import { DateTime } from 'luxon';
import type { Store, Tx } from '../store.js';
import type { ListaEsperaRecord } from '../../../../schemas/lista-espera.schema.js';
import { COLLECTIONS } from '../../../../repositories/collections.js';
import { Index, SortedView } from './index.js';

const C = COLLECTIONS.listaEspera;

/** An entry's window in ms since the epoch: [deMs, ateMs). */
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
 * Waiting-list entries, in order of arrival (first come, first served), with an index by paciente for the
 * LGPD export. A clinic keeps hundreds of entries, not millions: scans of the ordered list are fine; parsed
 * windows are kept per record so a freed slot does not parse every entry's dates again.
 */
export class ListaEsperaRepository {
  private readonly byPaciente: Index<ListaEsperaRecord>;
  private readonly byArrival: SortedView<ListaEsperaRecord>;
  private readonly windows = new WeakMap<ListaEsperaRecord, Janela>();

  constructor(
    private readonly store: Store,
    private readonly timezone: string,
  ) {
    this.byPaciente = new Index<ListaEsperaRecord>(store, C, (e) => [e.pacienteId]);
    this.byArrival = new SortedView<ListaEsperaRecord>(store, C, (a, b) => Date.parse(a.criadaEm) - Date.parse(b.criadaEm) || a.id.localeCompare(b.id));
  }

  get(id: string): ListaEsperaRecord | undefined {
    this.store.refresh();
    return this.store.get<ListaEsperaRecord>(C, id);
  }

  /** Every entry, oldest first. */
  all(): readonly ListaEsperaRecord[] {
    this.store.refresh();
    return this.byArrival.all();
  }

  /** The paciente's entries, oldest first. */
  ofPaciente(pacienteId: string): ListaEsperaRecord[] {
    this.store.refresh();
    return this.byPaciente.get(pacienteId).sort((a, b) => Date.parse(a.criadaEm) - Date.parse(b.criadaEm) || a.id.localeCompare(b.id));
  }

  /** The entry's window as instants. */
  janela(entry: ListaEsperaRecord): Janela {
    let janela = this.windows.get(entry);
    if (!janela) {
      janela = { deMs: limiteMs(entry.de, 'de', this.timezone), ateMs: limiteMs(entry.ate, 'ate', this.timezone) };
      this.windows.set(entry, janela);
    }
    return janela;
  }

  save(tx: Tx, entry: ListaEsperaRecord): void {
    tx.put(C, entry);
  }

  remove(tx: Tx, id: string): void {
    tx.delete(C, id);
  }
}
