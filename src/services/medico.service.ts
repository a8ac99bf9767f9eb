import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { AppError, notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { formatInstant } from '../core/time.js';
import type { Store } from '../infra/storage/json/store.js';
import type { Auditor } from './audit.service.js';
import type { ConsultaRecord, ConsultaRepository } from '../infra/storage/json/repositories/consulta.repository.js';
import type { Page } from '../infra/storage/json/repositories/index.js';
import type { MedicoFilter, MedicoRepository } from '../infra/storage/json/repositories/medico.repository.js';
import type { Medico, MedicoInput } from '../schemas/medico.schema.js';
import { consultasAfetadas } from './bloqueio.service.js';
import { localDate, slotStartingAt, workingIntervals } from './slots.js';

export interface MedicoServiceDeps {
  store: Store;
  medicos: MedicoRepository;
  consultas: ConsultaRepository;
  clock: Clock;
  timezone: string;
  logger: Logger;
  auditor: Auditor;
}

/** The rules about médicos: CRM uniqueness and the delete guard. */
export class MedicoService {
  constructor(private readonly deps: MedicoServiceDeps) {}

  list(filter: MedicoFilter): Page<Medico> {
    return this.deps.medicos.list(filter);
  }

  get(id: string): Medico {
    const medico = this.deps.medicos.get(id);
    if (!medico) throw notFound('Médico');
    return medico;
  }

  async create(input: MedicoInput): Promise<Medico> {
    const { store, medicos, logger } = this.deps;
    const medico = await store.transact((tx) => {
      this.assertCrmFree(input.crm);
      const now = this.now();
      const created: Medico = { id: randomUUID(), ...editable(input), criadoEm: now, atualizadoEm: now };
      medicos.save(tx, created);
      this.deps.auditor.stage(tx, { acao: 'medico.criar', recurso: 'medico', recursoId: created.id, status: 201 });
      return created;
    });
    logger.info({ medicoId: medico.id }, 'médico cadastrado');
    return medico;
  }

  /** PUT: replaces every editable field; `id` and `criadoEm` stay. */
  async replace(id: string, input: MedicoInput): Promise<Medico> {
    const { store, medicos, logger } = this.deps;
    const medico = await store.transact((tx) => {
      const current = this.get(id);
      this.assertCrmFree(input.crm, id);
      const updated: Medico = { ...current, ...editable(input), atualizadoEm: this.now() };
      const stranded = this.stranded(updated);
      if (stranded.length > 0) {
        throw consultasAfetadas(
          `A mudança deixaria ${stranded.length} consulta(s) futura(s) fora dos horários de atendimento; cancele ou remarque antes.`,
          stranded,
        );
      }
      medicos.save(tx, updated);
      this.deps.auditor.stage(tx, { acao: 'medico.atualizar', recurso: 'medico', recursoId: id, status: 200 });
      return updated;
    });
    logger.info({ medicoId: id }, 'médico atualizado');
    return medico;
  }

  async remove(id: string): Promise<void> {
    const { store, medicos, consultas, logger } = this.deps;
    await store.transact((tx) => {
      this.get(id);
      // Consultas of any status and time refer to the médico: the clinic's records keep them. Deactivate instead.
      if (consultas.medicoHasAny(id)) {
        throw new AppError('EXCLUSAO_BLOQUEADA', 'O médico tem consultas registradas; inative-o (ativo: false) em vez de excluir.');
      }
      medicos.remove(tx, id);
      this.deps.auditor.stage(tx, { acao: 'medico.excluir', recurso: 'medico', recursoId: id, status: 204 });
    });
    logger.info({ medicoId: id }, 'médico excluído');
  }

  /**
   * Future `agendada`/`confirmada` consultas the new schedule would orphan: a regular one must still be a slot
   * (same start and end, so a new duration that moves the grid counts), an encaixe must still fall inside working
   * hours. Deactivating is not checked here: an inactive médico's free slots show `bloqueado`, its consultas stay.
   */
  private stranded(medico: Medico): ConsultaRecord[] {
    const { consultas, clock, timezone } = this.deps;
    const now = clock.now().getTime();
    return consultas.forMedicoBetween(medico.id, now + 1, Infinity).filter((c) => {
      if (c.status !== 'agendada' && (c.status as string) !== 'confirmada') return false;
      const inicioMs = Date.parse(c.inicio);
      const fimMs = Date.parse(c.fim);
      if ((c as { encaixe?: unknown }).encaixe === true) {
        return !workingIntervals(medico, localDate(inicioMs, timezone), timezone).some((w) => w.inicioMs <= inicioMs && fimMs <= w.fimMs);
      }
      return slotStartingAt(medico, inicioMs, timezone)?.fimMs !== fimMs;
    });
  }

  private assertCrmFree(crm: string, exceptId?: string): void {
    const holder = this.deps.medicos.findByCrm(crm);
    if (holder && holder.id !== exceptId) {
      throw new AppError('CRM_DUPLICADO', `Já existe um médico com o CRM ${crm}.`, [
        { path: 'crm', message: 'CRM já cadastrado.' },
      ]);
    }
  }

  private now(): string {
    return formatInstant(this.deps.clock.now(), this.deps.timezone);
  }
}

function editable(input: MedicoInput): Omit<Medico, 'id' | 'criadoEm' | 'atualizadoEm'> {
  return {
    nome: input.nome,
    crm: input.crm,
    especialidade: input.especialidade,
    email: input.email ?? null,
    telefone: input.telefone ?? null,
    duracaoConsultaMin: input.duracaoConsultaMin,
    maxEncaixesDia: input.maxEncaixesDia,
    horarios: input.horarios.map(({ diaSemana, inicio, fim }) => ({ diaSemana, inicio, fim })),
    ativo: input.ativo,
  };
}
