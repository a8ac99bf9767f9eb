import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { AppError, notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { formatInstant } from '../core/time.js';
import { localDate, slotStartingAt, workingIntervals } from '../domain/slots.js';
import type { ConsultaRecord, MedicoFilter, Page, Reads, StoragePort } from '../repositories/port.js';
import type { Medico, MedicoInput } from '../schemas/medico.schema.js';
import type { Auditor } from './audit.service.js';
import { consultasAfetadas } from './bloqueio.service.js';

export interface MedicoServiceDeps {
  storage: StoragePort;
  clock: Clock;
  timezone: string;
  logger: Logger;
  auditor: Auditor;
}

/** The latest instant a `Date` can hold: "every future consulta" as a bound any driver can compare with. */
const END_OF_TIME_MS = 8.64e15;

/** The rules about médicos: CRM uniqueness and the delete guard. */
export class MedicoService {
  constructor(private readonly deps: MedicoServiceDeps) {}

  list(filter: MedicoFilter): Promise<Page<Medico>> {
    return this.deps.storage.medicos.list(filter);
  }

  async get(id: string): Promise<Medico> {
    return found(await this.deps.storage.medicos.get(id));
  }

  async create(input: MedicoInput): Promise<Medico> {
    const { storage, auditor, logger } = this.deps;
    // Made once, outside the unit of work: a retried unit writes the same record.
    const now = this.now();
    const created: Medico = { id: randomUUID(), ...editable(input), criadoEm: now, atualizadoEm: now };
    await storage.run(async (tx) => {
      await assertCrmFree(tx, input.crm);
      await tx.medicos.save(created);
      await auditor.stage(tx, { acao: 'medico.criar', recurso: 'medico', recursoId: created.id, status: 201 });
    });
    logger.info({ medicoId: created.id }, 'médico cadastrado');
    return created;
  }

  /** PUT: replaces every editable field; `id` and `criadoEm` stay. */
  async replace(id: string, input: MedicoInput): Promise<Medico> {
    const { storage, auditor, logger } = this.deps;
    const medico = await storage.run(async (tx) => {
      const current = found(await tx.medicos.get(id));
      await assertCrmFree(tx, input.crm, id);
      const updated: Medico = { ...current, ...editable(input), atualizadoEm: this.now() };
      const stranded = await this.stranded(tx, updated);
      if (stranded.length > 0) {
        throw consultasAfetadas(
          `A mudança deixaria ${stranded.length === 1 ? '1 consulta futura' : `${stranded.length} consultas futuras`} fora dos horários de atendimento; cancele ou remarque antes.`,
          stranded,
        );
      }
      await tx.medicos.save(updated);
      await auditor.stage(tx, { acao: 'medico.atualizar', recurso: 'medico', recursoId: id, status: 200 });
      return updated;
    });
    logger.info({ medicoId: id }, 'médico atualizado');
    return medico;
  }

  async remove(id: string): Promise<void> {
    const { storage, auditor, logger } = this.deps;
    await storage.run(async (tx) => {
      found(await tx.medicos.get(id));
      // Consultas of any status and time refer to the médico: the clinic's records keep them. Deactivate instead.
      if (await tx.consultas.medicoHasAny(id)) {
        throw new AppError('EXCLUSAO_BLOQUEADA', 'O médico tem consultas registradas; inative-o (ativo: false) em vez de excluir.');
      }
      await tx.medicos.remove(id);
      await auditor.stage(tx, { acao: 'medico.excluir', recurso: 'medico', recursoId: id, status: 204 });
    });
    logger.info({ medicoId: id }, 'médico excluído');
  }

  /**
   * Future `agendada`/`confirmada` consultas the new schedule would orphan: a regular one must still be a slot
   * (same start and end, so a new duration that moves the grid counts), an encaixe must still fall inside working
   * hours. Deactivating is not checked here: an inactive médico's free slots show `bloqueado`, its consultas stay.
   */
  private async stranded(reads: Pick<Reads, 'consultas'>, medico: Medico): Promise<ConsultaRecord[]> {
    const { clock, timezone } = this.deps;
    const now = clock.now().getTime();
    const future = await reads.consultas.forMedicoBetween(medico.id, now + 1, END_OF_TIME_MS);
    return future.filter((c) => {
      if (c.status !== 'agendada' && c.status !== 'confirmada') return false;
      const inicioMs = Date.parse(c.inicio);
      const fimMs = Date.parse(c.fim);
      if (c.encaixe === true) {
        return !workingIntervals(medico, localDate(inicioMs, timezone), timezone).some((w) => w.inicioMs <= inicioMs && fimMs <= w.fimMs);
      }
      return slotStartingAt(medico, inicioMs, timezone)?.fimMs !== fimMs;
    });
  }

  private now(): string {
    return formatInstant(this.deps.clock.now(), this.deps.timezone);
  }
}

function found(medico: Medico | undefined): Medico {
  if (!medico) throw notFound('Médico');
  return medico;
}

/** Read inside the unit of work that writes: a CRM taken meanwhile by another process is seen (or the database's UNIQUE refuses it). */
async function assertCrmFree(reads: Pick<Reads, 'medicos'>, crm: string, exceptId?: string): Promise<void> {
  const holder = await reads.medicos.findByCrm(crm);
  if (holder && holder.id !== exceptId) {
    throw new AppError('CRM_DUPLICADO', `Já existe um médico com o CRM ${crm}.`, [{ path: 'crm', message: 'CRM já cadastrado.' }]);
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
