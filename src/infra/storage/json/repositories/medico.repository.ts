import type { Store, Tx } from '../store.js';
import type { Medico } from '../../../../schemas/medico.schema.js';
import { COLLECTIONS } from '../../../../repositories/collections.js';
import { Index, SortedView, fold, paginate, type Page } from './index.js';
import type { MedicoFilter } from '../../../../repositories/port.js';

const C = COLLECTIONS.medicos;

/** Médicos in the store, with a CRM index for the uniqueness rule. */
export class MedicoRepository {
  private readonly byCrm: Index<Medico>;
  private readonly byName: SortedView<Medico>;

  constructor(private readonly store: Store) {
    this.byCrm = new Index<Medico>(store, C, (m) => [m.crm]);
    this.byName = new SortedView<Medico>(store, C, (a, b) => a.nome.localeCompare(b.nome, 'pt-BR') || a.id.localeCompare(b.id));
  }

  get(id: string): Medico | undefined {
    this.store.refresh();
    return this.store.get<Medico>(C, id);
  }

  findByCrm(crm: string): Medico | undefined {
    this.store.refresh();
    return this.byCrm.get(crm)[0];
  }

  list(filter: MedicoFilter): Page<Medico> {
    this.store.refresh();
    const q = filter.q ? fold(filter.q) : undefined;
    const especialidade = filter.especialidade ? fold(filter.especialidade) : undefined;
    return paginate(
      this.byName.all(),
      (m) =>
        (especialidade === undefined || fold(m.especialidade) === especialidade) &&
        (filter.ativo === undefined || m.ativo === filter.ativo) &&
        (q === undefined || fold(m.nome).includes(q)),
      filter.limit,
      filter.offset,
    );
  }

  /** Every médico, by name. */
  all(): readonly Medico[] {
    this.store.refresh();
    return this.byName.all();
  }

  save(tx: Tx, medico: Medico): void {
    tx.put(C, medico);
  }

  remove(tx: Tx, id: string): void {
    tx.delete(C, id);
  }
}
