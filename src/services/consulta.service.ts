import type { Clock } from '../core/clock.js';
import { AppError, notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { formatInstant } from '../core/time.js';
import { assertOwnMedico, ownMedicoOnly } from '../core/permissions.js';
import type { Store } from '../infra/storage/store.js';
import type { Auditor } from './audit.service.js';
import { times, type ConsultaRecord, type ConsultaRepository } from '../repositories/consulta.repository.js';
import type { Page } from '../repositories/index.js';
import type { AtualizarStatusInput, ListConsultasQuery } from '../schemas/consulta.schema.js';
import { nextDate, startOfDate } from './slots.js';

export interface ConsultaServiceDeps {
  store: Store;
  consultas: ConsultaRepository;
  clock: Clock;
  timezone: string;
  logger: Logger;
  auditor: Auditor;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** Reading consultas and the changes that need no slot: cancel, and recording what happened. */
export class ConsultaService {
  constructor(private readonly deps: ConsultaServiceDeps) {}

  /** One consulta, read by the acting user (recorded in the audit trail). */
  async get(id: string): Promise<ConsultaRecord> {
    const consulta = this.record(id);
    assertOwnMedico('consultas:ler', consulta.medicoId);
    await this.deps.auditor.record({ acao: 'consulta.ler', recurso: 'consulta', recursoId: id, pacienteIds: [consulta.pacienteId], status: 200 });
    return consulta;
  }

  /** A page of consultas; a médico user sees only their own (asking for another médico's is refused). */
  async list(query: ListConsultasQuery): Promise<Page<ConsultaRecord>> {
    const own = ownMedicoOnly('consultas:ler');
    if (own !== undefined && query.medicoId !== undefined && query.medicoId !== own) assertOwnMedico('consultas:ler', query.medicoId);
    const page = this.page(own === undefined ? query : { ...query, medicoId: own });
    await this.deps.auditor.record({ acao: 'consulta.listar', recurso: 'consulta', pacienteIds: page.items.map((c) => c.pacienteId), status: 200 });
    return page;
  }

  private record(id: string): ConsultaRecord {
    const consulta = this.deps.consultas.get(id);
    if (!consulta) throw notFound('Consulta');
    return consulta;
  }

  private page(query: ListConsultasQuery): Page<ConsultaRecord> {
    const zone = this.deps.timezone;
    // A date means the whole day in the clinic's zone: `de` from its first instant, `ate` to its last.
    const fromMs = query.de === undefined ? undefined : DATE_ONLY.test(query.de) ? startOfDate(query.de, zone) : Date.parse(query.de);
    const toMs =
      query.ate === undefined ? undefined : DATE_ONLY.test(query.ate) ? startOfDate(nextDate(query.ate), zone) - 1 : Date.parse(query.ate);
    return this.deps.consultas.list({ ...query, fromMs, toMs });
  }

  /** `agendada → cancelada`; the commit frees the slot. */
  async cancelar(id: string, motivo: string | null | undefined): Promise<ConsultaRecord> {
    const consulta = await this.update(id, 'consulta.cancelar', (current) => ({ ...current, status: 'cancelada', motivoCancelamento: motivo ?? null }));
    this.deps.logger.info({ consultaId: id }, 'consulta cancelada');
    return consulta;
  }

  /** `agendada → realizada | faltou`, only once the consulta's start has passed. */
  async atualizarStatus(id: string, input: AtualizarStatusInput): Promise<ConsultaRecord> {
    const consulta = await this.update(id, `consulta.${input.status}`, (current) => {
      if (times(current).inicio > this.deps.clock.now().getTime()) {
        throw new AppError('REGRA_AGENDAMENTO', 'A consulta ainda não começou; só depois do início ela pode ser marcada como realizada ou falta.', [
          { path: 'status', message: 'Consulta futura.' },
        ]);
      }
      return { ...current, status: input.status, observacoes: input.observacoes ?? current.observacoes };
    });
    this.deps.logger.info({ consultaId: id, status: input.status }, 'status da consulta atualizado');
    return consulta;
  }

  private update(id: string, acao: string, change: (current: ConsultaRecord) => ConsultaRecord): Promise<ConsultaRecord> {
    const { store, consultas, clock, timezone, auditor } = this.deps;
    const permission = acao === 'consulta.cancelar' ? 'consultas:escrever' : 'consultas:status';
    assertOwnMedico(permission, this.record(id).medicoId);
    return store.transact((tx) => {
      const current = this.record(id);
      if (current.status !== 'agendada') {
        throw new AppError('STATUS_INVALIDO', `A consulta está ${current.status}; só consultas agendadas podem mudar de status.`);
      }
      const updated = { ...change(current), atualizadaEm: formatInstant(clock.now(), timezone) };
      consultas.save(tx, updated);
      auditor.stage(tx, { acao, recurso: 'consulta', recursoId: id, pacienteIds: [current.pacienteId], status: 200 });
      return updated;
    });
  }
}
