import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { AppError, notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { ownMedicoOnly } from '../core/permissions.js';
import { formatInstant, todayIn } from '../core/time.js';
import { COLLECTIONS } from '../repositories/collections.js';
import type { ConsultaRecord, Page, PacienteFilter, Reads, StoragePort, UnitOfWork } from '../repositories/port.js';
import type { Paciente, PacienteInput } from '../schemas/paciente.schema.js';
import type { AuditEntry, Auditor } from './audit.service.js';

export interface PacienteServiceDeps {
  storage: StoragePort;
  auditor: Auditor;
  /** The audit entries naming one paciente (for the LGPD export). */
  auditOf: (pacienteId: string) => Promise<AuditEntry[]>;
  /** The paciente's waiting-list entries (for the LGPD export). */
  listaEsperaOf?: (pacienteId: string) => Promise<unknown[]>;
  /** Removes the paciente's waiting-list entries inside `tx` (deletion and anonymisation leave none behind); returns their ids. */
  forgetListaEspera?: (tx: UnitOfWork, pacienteId: string) => Promise<string[]>;
  /** Removes the stored reports that name the paciente (`ReportService.forgetPaciente`), once it is anonymised. */
  forgetReports?: (pacienteId: string) => Promise<unknown>;
  clock: Clock;
  timezone: string;
  logger: Logger;
}

/** Name an anonymised paciente keeps (contract). */
export const ANONYMISED_NAME = 'Paciente anonimizado';
/** True for a paciente record that `anonimizar` has rewritten. */
export const isAnonymised = (p: Pick<Paciente, 'nome' | 'cpf'>): boolean => p.nome === ANONYMISED_NAME && p.cpf === '';

/** Everything held about one paciente (LGPD art. 18: access and portability). */
export interface PacienteDados {
  geradoEm: string;
  paciente: Paciente;
  consultas: ConsultaRecord[];
  listaEspera: unknown[];
  auditoria: AuditEntry[];
}

/**
 * The rules about pacientes: CPF uniqueness, a birth date that has happened, the delete guard, and the data
 * subject's rights (export, anonymisation). Every read is recorded in the audit trail; a médico user sees only
 * pacientes who have a consulta with them.
 */
export class PacienteService {
  constructor(private readonly deps: PacienteServiceDeps) {}

  async list(filter: PacienteFilter): Promise<Page<Paciente>> {
    const { storage, auditor } = this.deps;
    const own = ownMedicoOnly('pacientes:ler');
    const only = own === undefined ? filter.only : await storage.consultas.pacienteIdsOf(own);
    const page = await storage.pacientes.list({ ...filter, only });
    await auditor.record({ acao: 'paciente.listar', recurso: 'paciente', pacienteIds: page.items.map((p) => p.id), status: 200 });
    return page;
  }

  /** One paciente, read by the acting user (recorded in the audit trail). */
  async get(id: string): Promise<Paciente> {
    const paciente = await this.visible(id);
    await this.deps.auditor.record({ acao: 'paciente.ler', recurso: 'paciente', recursoId: id, pacienteIds: [id], status: 200 });
    return paciente;
  }

  async create(input: PacienteInput): Promise<Paciente> {
    this.assertBorn(input.dataNascimento);
    const { storage, auditor, logger } = this.deps;
    // Made once, outside the unit of work: a retried unit writes the same record.
    const now = this.now();
    const created: Paciente = { id: randomUUID(), ...editable(input), criadoEm: now, atualizadoEm: now };
    await storage.run(async (tx) => {
      await assertCpfFree(tx, input.cpf);
      await tx.pacientes.save(created);
      await auditor.stage(tx, { acao: 'paciente.criar', recurso: 'paciente', recursoId: created.id, pacienteIds: [created.id], status: 201 });
    });
    logger.info({ pacienteId: created.id }, 'paciente cadastrado');
    return created;
  }

  async replace(id: string, input: PacienteInput): Promise<Paciente> {
    this.assertBorn(input.dataNascimento);
    const { storage, auditor, logger } = this.deps;
    const paciente = await storage.run(async (tx) => {
      const current = found(await tx.pacientes.get(id));
      if (isAnonymised(current)) {
        throw new AppError('PACIENTE_ANONIMIZADO', 'Paciente anonimizado não pode ser editado.');
      }
      await assertCpfFree(tx, input.cpf, id);
      const updated: Paciente = { ...current, ...editable(input), atualizadoEm: this.now() };
      await tx.pacientes.save(updated);
      await auditor.stage(tx, { acao: 'paciente.atualizar', recurso: 'paciente', recursoId: id, pacienteIds: [id], status: 200 });
      return updated;
    });
    logger.info({ pacienteId: id }, 'paciente atualizado');
    return paciente;
  }

  /** Only a paciente no consulta refers to (any status, any time) can be deleted; anonymise the others. */
  async remove(id: string): Promise<void> {
    const { storage, auditor, logger, forgetListaEspera } = this.deps;
    await storage.run(async (tx) => {
      found(await tx.pacientes.get(id));
      if ((await tx.consultas.ofPaciente(id)).length > 0) {
        throw new AppError('EXCLUSAO_BLOQUEADA', 'O paciente tem consultas registradas; use POST /pacientes/{id}/anonimizar em vez de excluir.');
      }
      await tx.pacientes.remove(id);
      await forgetHistory(tx, id, (await forgetListaEspera?.(tx, id)) ?? []);
      await auditor.stage(tx, { acao: 'paciente.excluir', recurso: 'paciente', recursoId: id, pacienteIds: [id], status: 204 });
    });
    logger.info({ pacienteId: id }, 'paciente excluído');
  }

  /**
   * Irreversible: the name becomes "Paciente anonimizado", CPF, e-mail and telephone are removed, the birth date
   * keeps only its year (as `YYYY-01-01`, so the field stays a date). Consultas stay, pointing at the same id.
   * Storage's history of the record and of the removed waiting-list entries (the JSON driver's journal, the
   * PostgreSQL change feed) goes with the same unit of work (`forgetHistory`).
   */
  async anonimizar(id: string): Promise<Paciente> {
    const { storage, auditor, logger, forgetListaEspera } = this.deps;
    const paciente = await storage.run(async (tx) => {
      const current = found(await tx.pacientes.get(id));
      const anonymised: Paciente = {
        ...current,
        nome: ANONYMISED_NAME,
        cpf: '',
        email: null,
        telefone: null,
        dataNascimento: `${current.dataNascimento.slice(0, 4)}-01-01`,
        atualizadoEm: this.now(),
      };
      await tx.pacientes.save(anonymised);
      // Entries name the paciente and may hold notes about them; nobody can call an anonymised paciente back.
      await forgetHistory(tx, id, (await forgetListaEspera?.(tx, id)) ?? []);
      await auditor.stage(tx, { acao: 'paciente.anonimizar', recurso: 'paciente', recursoId: id, pacienteIds: [id], status: 200 });
      return anonymised;
    });
    logger.info({ pacienteId: id }, 'paciente anonimizado');
    // After the commit: the record is anonymised whatever happens here; a report left behind is an error to act on.
    await this.deps.forgetReports?.(id).catch((error: unknown) => logger.error({ err: error, pacienteId: id }, 'relatórios que citam o paciente anonimizado não foram removidos'));
    return paciente;
  }

  /** LGPD export: the record, every consulta, waiting-list entries and the audit entries naming the paciente. */
  async dados(id: string): Promise<PacienteDados> {
    const { storage, auditor, auditOf, listaEsperaOf } = this.deps;
    const paciente = found(await storage.pacientes.get(id));
    await auditor.record({ acao: 'paciente.exportar', recurso: 'paciente', recursoId: id, pacienteIds: [id], status: 200 });
    const [consultas, listaEspera, entries] = await Promise.all([storage.consultas.ofPaciente(id), listaEsperaOf?.(id) ?? [], auditOf(id)]);
    // An entry of a listing names every paciente of its page: the export names only its own subject.
    const auditoria = entries.map((entry) => (entry.pacienteIds && entry.pacienteIds.some((p) => p !== id) ? { ...entry, pacienteIds: [id] } : entry));
    return { geradoEm: this.now(), paciente, consultas, listaEspera, auditoria };
  }

  /** The paciente, if the acting user may see them; a médico user gets 404 for pacientes who are not theirs. */
  private async visible(id: string): Promise<Paciente> {
    const { storage } = this.deps;
    const paciente = found(await storage.pacientes.get(id));
    const own = ownMedicoOnly('pacientes:ler');
    if (own !== undefined && !(await storage.consultas.pacienteSeenBy(id, own))) {
      throw new AppError('ACESSO_NEGADO', 'Este paciente não tem consultas com o seu médico.');
    }
    return paciente;
  }

  private assertBorn(dataNascimento: string): void {
    if (dataNascimento > todayIn(this.deps.timezone, this.deps.clock.now())) {
      throw new AppError('VALIDACAO', 'A requisição tem 1 erro de validação.', [
        { path: 'dataNascimento', message: 'Data de nascimento no futuro.' },
      ]);
    }
  }

  private now(): string {
    return formatInstant(this.deps.clock.now(), this.deps.timezone);
  }
}

function found(paciente: Paciente | undefined): Paciente {
  if (!paciente) throw notFound('Paciente');
  return paciente;
}

/** Read inside the unit of work that writes; across processes the database's UNIQUE is the backstop. */
async function assertCpfFree(reads: Pick<Reads, 'pacientes'>, cpf: string, exceptId?: string): Promise<void> {
  const holder = await reads.pacientes.findByCpf(cpf);
  if (holder && holder.id !== exceptId) {
    throw new AppError('CPF_DUPLICADO', 'Já existe um paciente com este CPF.', [{ path: 'cpf', message: 'CPF já cadastrado.' }]);
  }
}

function editable(input: PacienteInput): Omit<Paciente, 'id' | 'criadoEm' | 'atualizadoEm'> {
  return {
    nome: input.nome,
    cpf: input.cpf,
    dataNascimento: input.dataNascimento,
    email: input.email ?? null,
    telefone: input.telefone ?? null,
  };
}

/** What storage still keeps of the paciente's earlier values and of their removed waiting-list entries goes with `tx`. */
async function forgetHistory(tx: UnitOfWork, pacienteId: string, listaEsperaIds: readonly string[]): Promise<void> {
  await tx.forgetHistory(COLLECTIONS.pacientes, [pacienteId]);
  await tx.forgetHistory(COLLECTIONS.listaEspera, listaEsperaIds);
}
