import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { AppError, notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { ownMedicoOnly } from '../core/permissions.js';
import { formatInstant, todayIn } from '../core/time.js';
import type { Store, Tx } from '../infra/storage/json/store.js';
import type { ConsultaRecord, ConsultaRepository } from '../infra/storage/json/repositories/consulta.repository.js';
import type { Page } from '../infra/storage/json/repositories/index.js';
import type { PacienteFilter, PacienteRepository } from '../infra/storage/json/repositories/paciente.repository.js';
import type { Paciente, PacienteInput } from '../schemas/paciente.schema.js';
import type { AuditEntry, Auditor } from './audit.service.js';

export interface PacienteServiceDeps {
  store: Store;
  pacientes: PacienteRepository;
  consultas: ConsultaRepository;
  auditor: Auditor;
  /** The audit entries naming one paciente (for the LGPD export). */
  auditOf: (pacienteId: string) => Promise<AuditEntry[]>;
  /** The paciente's waiting-list entries (for the LGPD export). */
  listaEsperaOf?: (pacienteId: string) => unknown[];
  /** Removes the paciente's waiting-list entries inside `tx` (deletion and anonymisation leave none behind). */
  forgetListaEspera?: (tx: Tx, pacienteId: string) => void;
  clock: Clock;
  timezone: string;
  logger: Logger;
}

/** Name an anonymised paciente keeps (contract). */
export const ANONYMISED_NAME = 'Paciente anonimizado';

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
    const own = ownMedicoOnly('pacientes:ler');
    let page = this.deps.pacientes.list(filter);
    if (own !== undefined) {
      const mine = this.deps.consultas.pacienteIdsOf(own);
      page = this.deps.pacientes.list({ ...filter, only: mine });
    }
    await this.deps.auditor.record({ acao: 'paciente.listar', recurso: 'paciente', pacienteIds: page.items.map((p) => p.id), status: 200 });
    return page;
  }

  /** One paciente, read by the acting user (recorded in the audit trail). */
  async get(id: string): Promise<Paciente> {
    const paciente = this.visible(id);
    await this.deps.auditor.record({ acao: 'paciente.ler', recurso: 'paciente', recursoId: id, pacienteIds: [id], status: 200 });
    return paciente;
  }

  async create(input: PacienteInput): Promise<Paciente> {
    this.assertBorn(input.dataNascimento);
    const { store, pacientes, auditor, logger } = this.deps;
    const paciente = await store.transact((tx) => {
      this.assertCpfFree(input.cpf);
      const now = this.now();
      const created: Paciente = { id: randomUUID(), ...editable(input), criadoEm: now, atualizadoEm: now };
      pacientes.save(tx, created);
      auditor.stage(tx, { acao: 'paciente.criar', recurso: 'paciente', recursoId: created.id, pacienteIds: [created.id], status: 201 });
      return created;
    });
    logger.info({ pacienteId: paciente.id }, 'paciente cadastrado');
    return paciente;
  }

  async replace(id: string, input: PacienteInput): Promise<Paciente> {
    this.assertBorn(input.dataNascimento);
    const { store, pacientes, auditor, logger } = this.deps;
    const paciente = await store.transact((tx) => {
      const current = this.record(id);
      if (current.nome === ANONYMISED_NAME && current.cpf === '') {
        throw new AppError('STATUS_INVALIDO', 'Paciente anonimizado não pode ser editado.');
      }
      this.assertCpfFree(input.cpf, id);
      const updated: Paciente = { ...current, ...editable(input), atualizadoEm: this.now() };
      pacientes.save(tx, updated);
      auditor.stage(tx, { acao: 'paciente.atualizar', recurso: 'paciente', recursoId: id, pacienteIds: [id], status: 200 });
      return updated;
    });
    logger.info({ pacienteId: id }, 'paciente atualizado');
    return paciente;
  }

  /** Only a paciente no consulta refers to (any status, any time) can be deleted; anonymise the others. */
  async remove(id: string): Promise<void> {
    const { store, pacientes, consultas, auditor, logger } = this.deps;
    await store.transact((tx) => {
      this.record(id);
      if (consultas.ofPaciente(id).length > 0) {
        throw new AppError('EXCLUSAO_BLOQUEADA', 'O paciente tem consultas registradas; use POST /pacientes/{id}/anonimizar em vez de excluir.');
      }
      pacientes.remove(tx, id);
      this.deps.forgetListaEspera?.(tx, id);
      auditor.stage(tx, { acao: 'paciente.excluir', recurso: 'paciente', recursoId: id, pacienteIds: [id], status: 204 });
    });
    logger.info({ pacienteId: id }, 'paciente excluído');
  }

  /**
   * Irreversible: the name becomes "Paciente anonimizado", CPF, e-mail and telephone are removed, the birth date
   * keeps only its year (as `YYYY-01-01`, so the field stays a date). Consultas stay, pointing at the same id.
   * The old values leave the data files at the next checkpoint, which is forced here (the journal held them).
   */
  async anonimizar(id: string): Promise<Paciente> {
    const { store, pacientes, auditor, logger } = this.deps;
    const paciente = await store.transact((tx) => {
      const current = this.record(id);
      const anonymised: Paciente = {
        ...current,
        nome: ANONYMISED_NAME,
        cpf: '',
        email: null,
        telefone: null,
        dataNascimento: `${current.dataNascimento.slice(0, 4)}-01-01`,
        atualizadoEm: this.now(),
      };
      pacientes.save(tx, anonymised);
      // Entries name the paciente and may hold notes about them; nobody can call an anonymised paciente back.
      this.deps.forgetListaEspera?.(tx, id);
      auditor.stage(tx, { acao: 'paciente.anonimizar', recurso: 'paciente', recursoId: id, pacienteIds: [id], status: 200 });
      return anonymised;
    });
    // The journal still holds the old record until it is folded into the data files: fold it now.
    await store.checkpoint();
    logger.info({ pacienteId: id }, 'paciente anonimizado');
    return paciente;
  }

  /** LGPD export: the record, every consulta, waiting-list entries and the audit entries naming the paciente. */
  async dados(id: string): Promise<PacienteDados> {
    const paciente = this.record(id);
    const { consultas, auditor, auditOf, listaEsperaOf } = this.deps;
    await auditor.record({ acao: 'paciente.exportar', recurso: 'paciente', recursoId: id, pacienteIds: [id], status: 200 });
    return { geradoEm: this.now(), paciente, consultas: consultas.ofPaciente(id), listaEspera: listaEsperaOf?.(id) ?? [], auditoria: await auditOf(id) };
  }

  private record(id: string): Paciente {
    const paciente = this.deps.pacientes.get(id);
    if (!paciente) throw notFound('Paciente');
    return paciente;
  }

  /** The paciente, if the acting user may see them; a médico user gets 404 for pacientes who are not theirs. */
  private visible(id: string): Paciente {
    const paciente = this.record(id);
    const own = ownMedicoOnly('pacientes:ler');
    if (own !== undefined && !this.deps.consultas.pacienteSeenBy(id, own)) {
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

  private assertCpfFree(cpf: string, exceptId?: string): void {
    const holder = this.deps.pacientes.findByCpf(cpf);
    if (holder && holder.id !== exceptId) {
      throw new AppError('CPF_DUPLICADO', 'Já existe um paciente com este CPF.', [{ path: 'cpf', message: 'CPF já cadastrado.' }]);
    }
  }

  private now(): string {
    return formatInstant(this.deps.clock.now(), this.deps.timezone);
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
