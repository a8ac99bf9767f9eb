import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { AppError, notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { assertOwnMedico, ownMedicoOnly } from '../core/permissions.js';
import { formatInstant } from '../core/time.js';
import { Janelas, limiteMs } from '../domain/janela.js';
import type { SlotTime } from '../domain/slots.js';
import { fold } from '../domain/text.js';
import type { ConsultaRecord, Page, Reads, StoragePort, UnitOfWork } from '../repositories/port.js';
import type { ListaEspera, ListaEsperaInput, ListaEsperaRecord, ListListaEsperaQuery } from '../schemas/lista-espera.schema.js';
import type { Medico } from '../schemas/medico.schema.js';
import type { Auditor } from './audit.service.js';

export interface ListaEsperaServiceDeps {
  storage: StoragePort;
  auditor: Auditor;
  clock: Clock;
  timezone: string;
  logger: Logger;
}

const PERMISSION = 'lista-espera';

/** Whether an entry is *ativa* now, answered without I/O once its pacientes' consultas have been read. */
type Ativa = (entry: ListaEsperaRecord) => boolean;

/**
 * The waiting list: pacientes waiting for a slot with a médico, or with any médico of an especialidade, inside
 * a window. An entry is *ativa* while its window has not ended and the paciente has not been booked inside it
 * (a consulta, not cancelled, created after the entry, with a médico the entry accepts): being served is read
 * from the consultas, so nothing has to remember to close the entry. `DELETE` removes the entry for good.
 *
 * A médico user works only with entries naming its own médico; entries by especialidade alone are the front
 * desk's (they name a paciente who may never see that médico, so they are not shown to médico users).
 *
 * Reads go to storage first (the entries, their pacientes' consultas, the médicos: one query each), then every
 * entry is judged without I/O.
 */
export class ListaEsperaService {
  private readonly janelas: Janelas;

  constructor(private readonly deps: ListaEsperaServiceDeps) {
    this.janelas = new Janelas(deps.timezone);
  }

  async create(input: ListaEsperaInput): Promise<ListaEspera> {
    const { storage, auditor, logger } = this.deps;
    const medicoId = input.medicoId ?? null;
    if (medicoId) assertOwnMedico(PERMISSION, medicoId);
    else if (ownMedicoOnly(PERMISSION) !== undefined) {
      throw new AppError('ACESSO_NEGADO', 'Seu usuário só pode incluir pacientes na lista de espera do próprio médico.');
    }
    this.assertWindow(input.de, input.ate);
    const entry = await storage.run(async (tx) => {
      await this.assertReferences(tx, input.pacienteId, medicoId, input.especialidade ?? null);
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
      await tx.listaEspera.save(created);
      await auditor.stage(tx, { acao: 'lista_espera.criar', recurso: 'lista_espera', recursoId: created.id, pacienteIds: [created.pacienteId], status: 201 });
      return created;
    });
    logger.info({ listaEsperaId: entry.id }, 'paciente incluído na lista de espera');
    return (await this.present([entry]))[0]!;
  }

  /** A page of entries, oldest first (recorded in the audit trail: entries name pacientes). */
  async list(query: ListListaEsperaQuery): Promise<Page<ListaEspera>> {
    const own = ownMedicoOnly(PERMISSION);
    if (own !== undefined && query.medicoId !== undefined) assertOwnMedico(PERMISSION, query.medicoId);
    const medicoId = own ?? query.medicoId;
    const especialidade = query.especialidade === undefined ? undefined : fold(query.especialidade);
    const now = this.deps.clock.now().getTime();
    const [entries, medicos] = await Promise.all([this.deps.storage.listaEspera.all(), this.medicosById()]);
    let matched = entries.filter(
      (e) => (medicoId === undefined || e.medicoId === medicoId) && (especialidade === undefined || especialidadeOf(e, medicos) === especialidade),
    );
    // `ativa` reads the pacientes' consultas: only for the entries the filter or the page needs.
    if (query.ativa !== undefined) {
      const ativa = await this.ativa(matched, now, medicos);
      matched = matched.filter((e) => ativa(e) === query.ativa);
    }
    const items = matched.slice(query.offset, query.offset + query.limit);
    const page = { items, total: matched.length, limit: query.limit, offset: query.offset };
    await this.deps.auditor.record({ acao: 'lista_espera.listar', recurso: 'lista_espera', pacienteIds: page.items.map((e) => e.pacienteId), status: 200 });
    return { ...page, items: await this.present(items, now, medicos) };
  }

  async remove(id: string): Promise<void> {
    const { storage, auditor, logger } = this.deps;
    this.assertMayTouch(await this.record(storage, id));
    await storage.run(async (tx) => {
      const entry = await this.record(tx, id);
      await tx.listaEspera.remove(id);
      await auditor.stage(tx, { acao: 'lista_espera.excluir', recurso: 'lista_espera', recursoId: id, pacienteIds: [entry.pacienteId], status: 204 });
    });
    logger.info({ listaEsperaId: id }, 'entrada da lista de espera excluída');
  }

  /** The paciente's entries, for the LGPD export (the caller records the read). */
  async ofPaciente(pacienteId: string): Promise<ListaEspera[]> {
    return this.present(await this.deps.storage.listaEspera.ofPaciente(pacienteId));
  }

  /** Removes the paciente's entries inside `tx` (the paciente is deleted or anonymised; their audit entry covers it). */
  async forgetPaciente(tx: UnitOfWork, pacienteId: string): Promise<string[]> {
    const entries = await tx.listaEspera.ofPaciente(pacienteId);
    for (const entry of entries) await tx.listaEspera.remove(entry.id);
    return entries.map((e) => e.id);
  }

  /**
   * For the free slots of `medico`: a function giving the ids of the active entries a slot serves, oldest first.
   * The entries and what decides whether each is active are read once; each slot is then matched without I/O.
   */
  async matcher(medico: Medico): Promise<(slot: SlotTime) => string[]> {
    const now = this.deps.clock.now().getTime();
    const especialidade = fold(medico.especialidade);
    const candidates = (await this.deps.storage.listaEspera.all()).filter(
      (e) => (e.medicoId === null || e.medicoId === medico.id) && (e.especialidade === null || fold(e.especialidade) === especialidade),
    );
    if (candidates.length === 0) return () => [];
    const ativa = await this.ativa(candidates, now, await this.medicosById());
    const waiting = candidates.filter(ativa);
    return (slot) =>
      waiting.filter((entry) => {
        const { deMs, ateMs } = this.janelas.of(entry);
        return slot.inicioMs >= deMs && slot.fimMs <= ateMs;
      }).map((entry) => entry.id);
  }

  /** Reads the consultas of the entries' pacientes (one query per paciente), then judges each entry as of `now`. */
  private async ativa(entries: readonly ListaEsperaRecord[], now: number, medicos: ReadonlyMap<string, Medico>): Promise<Ativa> {
    const open = entries.filter((e) => this.janelas.of(e).ateMs > now);
    const pacienteIds = [...new Set(open.map((e) => e.pacienteId))];
    const lists = await Promise.all(pacienteIds.map((id) => this.deps.storage.consultas.ofPaciente(id)));
    const consultasOf = new Map(pacienteIds.map((id, i) => [id, lists[i]!]));
    return (entry) => this.isAtiva(entry, now, consultasOf.get(entry.pacienteId) ?? [], medicos);
  }

  private isAtiva(entry: ListaEsperaRecord, now: number, consultas: readonly ConsultaRecord[], medicos: ReadonlyMap<string, Medico>): boolean {
    const { deMs, ateMs } = this.janelas.of(entry);
    if (ateMs <= now) return false;
    const since = Date.parse(entry.criadaEm);
    return !consultas.some((c) => {
      if (c.status === 'cancelada' || Date.parse(c.criadaEm) < since) return false;
      const inicio = Date.parse(c.inicio);
      if (inicio < deMs || inicio >= ateMs) return false;
      if (entry.medicoId !== null) return c.medicoId === entry.medicoId;
      const medico = medicos.get(c.medicoId);
      return medico !== undefined && fold(medico.especialidade) === fold(entry.especialidade ?? '');
    });
  }

  /** Every médico by id: a clinic has tens (see `MedicoReads.all`). */
  private async medicosById(): Promise<Map<string, Medico>> {
    return new Map((await this.deps.storage.medicos.all()).map((m) => [m.id, m]));
  }

  private async present(entries: readonly ListaEsperaRecord[], now = this.deps.clock.now().getTime(), medicos?: ReadonlyMap<string, Medico>): Promise<ListaEspera[]> {
    if (entries.length === 0) return [];
    const ativa = await this.ativa(entries, now, medicos ?? (await this.medicosById()));
    return entries.map((e) => ({ ...e, ativa: ativa(e) }));
  }

  private async record(reads: Pick<Reads, 'listaEspera'>, id: string): Promise<ListaEsperaRecord> {
    const entry = await reads.listaEspera.get(id);
    if (!entry) throw notFound('Entrada da lista de espera', 'a');
    return entry;
  }

  /** A médico user may only touch entries naming its own médico (see the class comment). */
  private assertMayTouch(entry: ListaEsperaRecord): void {
    if (entry.medicoId !== null) assertOwnMedico(PERMISSION, entry.medicoId);
    else if (ownMedicoOnly(PERMISSION) !== undefined) throw notFound('Entrada da lista de espera', 'a');
  }

  private assertWindow(de: string, ate: string): void {
    const zone = this.deps.timezone;
    const ateMs = limiteMs(ate, 'ate', zone);
    if (limiteMs(de, 'de', zone) >= ateMs) throw invalid('ate', 'ate deve ser posterior a de (ou o mesmo dia, com datas).');
    if (ateMs <= this.deps.clock.now().getTime()) throw invalid('ate', 'A janela já terminou.');
  }

  private async assertReferences(tx: UnitOfWork, pacienteId: string, medicoId: string | null, especialidade: string | null): Promise<void> {
    if (!(await tx.pacientes.get(pacienteId))) throw reference('pacienteId', 'Paciente inexistente.');
    if (medicoId === null) return;
    const medico = await tx.medicos.get(medicoId);
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

/** The especialidade an entry waits for: its own, or its médico's (folded, for comparison). */
function especialidadeOf(entry: ListaEsperaRecord, medicos: ReadonlyMap<string, Medico>): string | undefined {
  if (entry.especialidade !== null) return fold(entry.especialidade);
  const medico = entry.medicoId === null ? undefined : medicos.get(entry.medicoId);
  return medico ? fold(medico.especialidade) : undefined;
}

const invalid = (path: string, message: string): AppError => new AppError('VALIDACAO', 'A requisição tem 1 erro de validação.', [{ path, message }]);
const reference = (path: string, message: string): AppError => new AppError('REFERENCIA_INVALIDA', message, [{ path, message }]);
