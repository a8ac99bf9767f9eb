import type { Store, Tx } from '../store.js';
import type { ListaEsperaRecord } from '../../../../schemas/lista-espera.schema.js';
import { COLLECTIONS } from '../../../../repositories/collections.js';
import { Index, SortedView } from './index.js';

const C = COLLECTIONS.listaEspera;

/**
 * Waiting-list entries, in order of arrival (first come, first served), with an index by paciente for the
 * LGPD export. A clinic keeps hundreds of entries, not millions: scans of the ordered list are fine. (What an
 * entry's window means is domain logic: `domain/janela.ts`.)
 */
export class ListaEsperaRepository {
  private readonly byPaciente: Index<ListaEsperaRecord>;
  private readonly byArrival: SortedView<ListaEsperaRecord>;

  constructor(private readonly store: Store) {
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

  save(tx: Tx, entry: ListaEsperaRecord): void {
    tx.put(C, entry);
  }

  remove(tx: Tx, id: string): void {
    tx.delete(C, id);
  }
}
