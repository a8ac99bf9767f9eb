import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { AppError, notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { assertOwnMedico, ownMedicoOnly } from '../core/permissions.js';
import { formatInstant } from '../core/time.js';
import type { Store, Tx } from '../infra/storage/json/store.js';
import type { ConsultaRepository } from '../infra/storage/json/repositories/consulta.repository.js';
import { fold, paginate, type Page } from '../infra/storage/json/repositories/index.js';
import { limiteMs, type ListaEsperaRepository } from '../infra/storage/json/repositories/lista-espera.repository.js';
import type { MedicoRepository } from '../infra/storage/json/repositories/medico.repository.js';
import type { PacienteRepository } from '../infra/storage/json/repositories/paciente.repository.js';
import type { ListaEspera, ListaEsperaInput, ListaEsperaRecord, ListListaEsperaQuery } from '../schemas/lista-espera.schema.js';
import type { Medico } from '../schemas/medico.schema.js';
import type { SlotTime } from './slots.js';
import type { Auditor } from './audit.service.js';

export interface ListaEsperaServiceDeps {
  store: Store;
  listaEspera: ListaEsperaRepository;
  medicos: MedicoRepository;
  pacientes: PacienteRepository;
  consultas: ConsultaRepository;
  auditor: Auditor;
  clock: Clock;
  timezone: string;
  logger: Logger;
}

const PERMISSION = 'lista-espera';

/**
 * The waiting list: pacientes waiting for a slot with a médico, or with any médico of an especialidade, inside
 * a window. An entry is *ativa* while its window has not ended and the paciente has not been booked inside it
 * (a consulta, not cancelled, created after the entry, with a médico the entry accepts): being served is read
 * from the consultas, so nothing has to remember to close the entry. `DELETE` removes the entry for good.
 *
 * A médico user works only with entries naming its own médico; entries by especialidade alone are the front
 * desk's (they name a paciente who may never see that médico, so they are not shown to médico users).
 */
export class ListaEsperaService {
  constructor(private readonly deps: ListaEsperaServiceDeps) {}

  async create(input: ListaEsperaInput): Promise<ListaEspera> {
    const { store, listaEspera, auditor, logger } = this.deps;
    const medicoId = input.medicoId ?? null;
    if (medicoId) assertOwnMedico(PERMISSION, medicoId);
    else if (ownMedicoOnly(PERMISSION) !== undefined) {
      throw new AppError('ACESSO_NEGADO', 'Seu usuário só pode incluir pacientes na lista de espera do próprio médico.');
    }
    this.assertWindow(input.de, input.ate);
    const entry = await store.transact((tx) => {
      this.assertReferences(input.pacienteId, medicoId, input.especialidade ?? null);
      const created: ListaEsperaRecord = {
        id: randomUUID(),
        pacienteId: input.pacienteId,
        medicoId,
        especialidade: input.especialidade ?? null,
        de: this.normalise(input.de),
        ate: this.normalise(input.ate),
        observacoes: input.observacoes ?? null,
        criadaEm: formatInstant(this.deps.clock.now(), this.deps.timezone),
      };
      listaEspera.save(tx, created);
      auditor.stage(tx, { acao: 'lista_espera.criar', recurso: 'lista_espera', recursoId: created.id, pacienteIds: [created.pacienteId], status: 201 });
      return created;
    });
    logger.info({ listaEsperaId: entry.id }, 'paciente incluído na lista de espera');
    return this.present(entry);
  }

  /** A page of entries, oldest first (recorded in the audit trail: entries name pacientes). */
  async list(query: ListListaEsperaQuery): Promise<Page<ListaEspera>> {
    const own = ownMedicoOnly(PERMISSION);
    if (own !== undefined && query.medicoId !== undefined) assertOwnMedico(PERMISSION, query.medicoId);
    const medicoId = own ?? query.medicoId;
    const especialidade = query.especialidade === undefined ? undefined : fold(query.especialidade);
    const now = this.deps.clock.now().getTime();
    const page = paginate(
      this.deps.listaEspera.all(),
      (e) =>
        (medicoId === undefined || e.medicoId === medicoId) &&
        (especialidade === undefined || this.especialidadeOf(e) === especialidade) &&
        (query.ativa === undefined || this.isAtiva(e, now) === query.ativa),
      query.limit,
      query.offset,
    );
    await this.deps.auditor.record({ acao: 'lista_espera.listar', recurso: 'lista_espera', pacienteIds: page.items.map((e) => e.pacienteId), status: 200 });
    return { ...page, items: page.items.map((e) => this.present(e, now)) };
  }

  async remove(id: string): Promise<void> {
    const { store, listaEspera, auditor, logger } = this.deps;
    this.assertMayTouch(this.record(id));
    await store.transact((tx) => {
      const entry = this.record(id);
      listaEspera.remove(tx, id);
      auditor.stage(tx, { acao: 'lista_espera.excluir', recurso: 'lista_espera', recursoId: id, pacienteIds: [entry.pacienteId], status: 204 });
    });
    logger.info({ listaEsperaId: id }, 'entrada da lista de espera excluída');
  }

  /** The paciente's entries, for the LGPD export (the caller records the read). */
  ofPaciente(pacienteId: string): ListaEspera[] {
    const now = this.deps.clock.now().getTime();
    return this.deps.listaEspera.ofPaciente(pacienteId).map((e) => this.present(e, now));
  }

  /** Removes the paciente's entries inside `tx` (the paciente is deleted or anonymised; their audit entry covers it). */
  forgetPaciente(tx: Tx, pacienteId: string): void {
    for (const entry of this.deps.listaEspera.ofPaciente(pacienteId)) this.deps.listaEspera.remove(tx, entry.id);
  }

  /** The ids of the active entries a free slot of `medico` serves, oldest first. */
  matching(medico: Medico, slot: SlotTime): string[] {
    const now = this.deps.clock.now().getTime();
    const especialidade = fold(medico.especialidade);
    const ids: string[] = [];
    for (const entry of this.deps.listaEspera.all()) {
      if (entry.medicoId !== null && entry.medicoId !== medico.id) continue;
      if (entry.especialidade !== null && fold(entry.especialidade) !== especialidade) continue;
      const { deMs, ateMs } = this.deps.listaEspera.janela(entry);
      if (slot.inicioMs < deMs || slot.fimMs > ateMs) continue;
      if (this.isAtiva(entry, now)) ids.push(entry.id);
    }
    return ids;
  }

  private isAtiva(entry: ListaEsperaRecord, now: number): boolean {
    const { deMs, ateMs } = this.deps.listaEspera.janela(entry);
    if (ateMs <= now) return false;
    const since = Date.parse(entry.criadaEm);
    return !this.deps.consultas.ofPaciente(entry.pacienteId).some((c) => {
      if (c.status === 'cancelada' || Date.parse(c.criadaEm) < since) return false;
      const inicio = Date.parse(c.inicio);
      if (inicio < deMs || inicio >= ateMs) return false;
      if (entry.medicoId !== null) return c.medicoId === entry.medicoId;
      const medico = this.deps.medicos.get(c.medicoId);
      return medico !== undefined && fold(medico.especialidade) === fold(entry.especialidade ?? '');
    });
  }

  /** The especialidade an entry waits for: its own, or its médico's (folded, for comparison). */
  private especialidadeOf(entry: ListaEsperaRecord): string | undefined {
    if (entry.especialidade !== null) return fold(entry.especialidade);
    const medico = entry.medicoId === null ? undefined : this.deps.medicos.get(entry.medicoId);
    return medico ? fold(medico.especialidade) : undefined;
  }

  private present(entry: ListaEsperaRecord, now = this.deps.clock.now().getTime()): ListaEspera {
    return { ...entry, ativa: this.isAtiva(entry, now) };
  }

  private record(id: string): ListaEsperaRecord {
    const entry = this.deps.listaEspera.get(id);
    if (!entry) throw notFound('Entrada da lista de espera');
    return entry;
  }

  /** A médico user may only touch entries naming its own médico (see the class comment). */
  private assertMayTouch(entry: ListaEsperaRecord): void {
    if (entry.medicoId !== null) assertOwnMedico(PERMISSION, entry.medicoId);
    else if (ownMedicoOnly(PERMISSION) !== undefined) throw notFound('Entrada da lista de espera');
  }

  private assertWindow(de: string, ate: string): void {
    const zone = this.deps.timezone;
    const ateMs = limiteMs(ate, 'ate', zone);
    if (limiteMs(de, 'de', zone) >= ateMs) throw invalid('ate', 'ate deve ser posterior a de (ou o mesmo dia, com datas).');
    if (ateMs <= this.deps.clock.now().getTime()) throw invalid('ate', 'A janela já terminou.');
  }

  private assertReferences(pacienteId: string, medicoId: string | null, especialidade: string | null): void {
    if (!this.deps.pacientes.get(pacienteId)) throw reference('pacienteId', 'Paciente inexistente.');
    if (medicoId === null) return;
    const medico = this.deps.medicos.get(medicoId);
    if (!medico) throw reference('medicoId', 'Médico inexistente.');
    if (especialidade !== null && fold(especialidade) !== fold(medico.especialidade)) {
      throw invalid('especialidade', `O médico é de ${medico.especialidade}; deixe especialidade vazia ou use a dele.`);
    }
  }

  /** Dates stay dates; instants are written in the clinic's zone, as every instant the API answers. */
  private normalise(value: string): string {
    return /^\d{4}-\d{2}-\d{2}$/.test(value) ? value : formatInstant(Date.parse(value), this.deps.timezone);
  }
}

const invalid = (path: string, message: string): AppError => new AppError('VALIDACAO', 'A requisição tem 1 erro de validação.', [{ path, message }]);
const reference = (path: string, message: string): AppError => new AppError('REFERENCIA_INVALIDA', message, [{ path, message }]);
