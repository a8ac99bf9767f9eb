import type { Store, Tx } from '../store.js';
import type { Bloqueio } from '../../../../schemas/bloqueio.schema.js';
import type { FeriadoRecord } from '../../../../schemas/feriado.schema.js';
import { COLLECTIONS } from '../../../../repositories/collections.js';
import { Index } from './index.js';

/** A bloqueio with its times parsed: [inicioMs, fimMs). */
export interface BloqueioSpan {
  bloqueio: Bloqueio;
  inicioMs: number;
  fimMs: number;
}

/**
 * Bloqueios by médico. A médico has a handful (vacations, congresses), so a médico's list is kept parsed and
 * sorted by start, rebuilt only after that médico's bloqueios change; the agenda sweeps it alongside the slots.
 */
export class BloqueioRepository {
  private readonly byMedico: Index<Bloqueio>;
  private readonly spans = new Map<string, BloqueioSpan[]>();

  constructor(private readonly store: Store) {
    this.byMedico = new Index<Bloqueio>(store, COLLECTIONS.bloqueios, (b) => [b.medicoId]);
    store.subscribe({
      change: (change) => {
        if (change.collection === COLLECTIONS.bloqueios) this.spans.clear();
      },
      reset: (collection) => {
        if (collection === COLLECTIONS.bloqueios) this.spans.clear();
      },
    });
  }

  get(id: string): Bloqueio | undefined {
    this.store.refresh();
    return this.store.get<Bloqueio>(COLLECTIONS.bloqueios, id);
  }

  /** The médico's bloqueios, by start. */
  ofMedico(medicoId: string): readonly BloqueioSpan[] {
    this.store.refresh();
    let list = this.spans.get(medicoId);
    if (!list) {
      list = this.byMedico
        .get(medicoId)
        .map((bloqueio) => ({ bloqueio, inicioMs: Date.parse(bloqueio.inicio), fimMs: Date.parse(bloqueio.fim) }))
        .sort((a, b) => a.inicioMs - b.inicioMs || a.fimMs - b.fimMs);
      this.spans.set(medicoId, list);
    }
    return list;
  }

  /** A bloqueio of the médico overlapping [fromMs, toMs). */
  overlapping(medicoId: string, fromMs: number, toMs: number): Bloqueio | undefined {
    return this.ofMedico(medicoId).find((s) => s.inicioMs < toMs && s.fimMs > fromMs)?.bloqueio;
  }

  save(tx: Tx, bloqueio: Bloqueio): void {
    tx.put(COLLECTIONS.bloqueios, bloqueio);
  }

  remove(tx: Tx, id: string): void {
    tx.delete(COLLECTIONS.bloqueios, id);
  }
}

/** The clinic's own holidays, by date. */
export class FeriadoRepository {
  private readonly byData: Index<FeriadoRecord>;

  constructor(private readonly store: Store) {
    this.byData = new Index<FeriadoRecord>(store, COLLECTIONS.feriados, (f) => [f.data]);
  }

  get(id: string): FeriadoRecord | undefined {
    this.store.refresh();
    return this.store.get<FeriadoRecord>(COLLECTIONS.feriados, id);
  }

  on(data: string): FeriadoRecord[] {
    this.store.refresh();
    return this.byData.get(data);
  }

  /** Those of a year (`data` starts with it). */
  ofYear(ano: number): FeriadoRecord[] {
    this.store.refresh();
    const prefix = `${ano}-`;
    return Array.from(this.store.values<FeriadoRecord>(COLLECTIONS.feriados)).filter((f) => f.data.startsWith(prefix));
  }

  save(tx: Tx, feriado: FeriadoRecord): void {
    tx.put(COLLECTIONS.feriados, feriado);
  }

  remove(tx: Tx, id: string): void {
    tx.delete(COLLECTIONS.feriados, id);
  }
}
