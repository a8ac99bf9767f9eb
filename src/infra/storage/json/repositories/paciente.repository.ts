import type { Store, Tx } from '../store.js';
import type { Paciente } from '../../../../schemas/paciente.schema.js';
import { COLLECTIONS } from '../../../../repositories/collections.js';
import { Index, SortedView, fold, paginate, type Page } from './index.js';
import type { PacienteFilter } from '../../../../repositories/port.js';

const C = COLLECTIONS.pacientes;

/** Pacientes in the store, with a CPF index for the uniqueness rule and the `cpf` filter. */
export class PacienteRepository {
  private readonly byCpf: Index<Paciente>;
  private readonly byName: SortedView<Paciente>;

  constructor(private readonly store: Store) {
    this.byCpf = new Index<Paciente>(store, C, (p) => [p.cpf]);
    this.byName = new SortedView<Paciente>(store, C, (a, b) => a.nome.localeCompare(b.nome, 'pt-BR') || a.id.localeCompare(b.id));
  }

  get(id: string): Paciente | undefined {
    this.store.refresh();
    return this.store.get<Paciente>(C, id);
  }

  findByCpf(cpf: string): Paciente | undefined {
    this.store.refresh();
    return this.byCpf.get(cpf)[0];
  }

  list(filter: PacienteFilter): Page<Paciente> {
    this.store.refresh();
    if (filter.cpf !== undefined) {
      const found = this.byCpf.get(filter.cpf);
      return paginate(found, (p) => !filter.only || filter.only.has(p.id), filter.limit, filter.offset);
    }
    const q = filter.q ? fold(filter.q) : undefined;
    const only = filter.only;
    return paginate(
      this.byName.all(),
      (p) => (!only || only.has(p.id)) && (q === undefined || fold(p.nome).includes(q)),
      filter.limit,
      filter.offset,
    );
  }

  save(tx: Tx, paciente: Paciente): void {
    tx.put(C, paciente);
  }

  remove(tx: Tx, id: string): void {
    tx.delete(C, id);
  }
}
