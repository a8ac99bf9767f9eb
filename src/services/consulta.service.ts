import type { Clock } from '../core/clock.js';
import { AppError, notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { formatInstant } from '../core/time.js';
import type { Store } from '../infra/storage/store.js';
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
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** Reading consultas and the changes that need no slot: cancel, and recording what happened. */
export class ConsultaService {
  constructor(private readonly deps: ConsultaServiceDeps) {}

  get(id: string): ConsultaRecord {
    const consulta = this.deps.consultas.get(id);
    if (!consulta) throw notFound('Consulta');
    return consulta;
  }

  list(query: ListConsultasQuery): Page<ConsultaRecord> {
    const zone = this.deps.timezone;
    // A date means the whole day in the clinic's zone: `de` from its first instant, `ate` to its last.
    const fromMs = query.de === undefined ? undefined : DATE_ONLY.test(query.de) ? startOfDate(query.de, zone) : Date.parse(query.de);
    const toMs =
      query.ate === undefined ? undefined : DATE_ONLY.test(query.ate) ? startOfDate(nextDate(query.ate), zone) - 1 : Date.parse(query.ate);
    return this.deps.consultas.list({ ...query, fromMs, toMs });
  }

  /** `agendada → cancelada`; the commit frees the slot. */
  async cancelar(id: string, motivo: string | null | undefined): Promise<ConsultaRecord> {
    const consulta = await this.update(id, (current) => ({ ...current, status: 'cancelada', motivoCancelamento: motivo ?? null }));
    this.deps.logger.info({ consultaId: id }, 'consulta cancelada');
    return consulta;
  }

  /** `agendada → realizada | faltou`, only once the consulta's start has passed. */
  async atualizarStatus(id: string, input: AtualizarStatusInput): Promise<ConsultaRecord> {
    const consulta = await this.update(id, (current) => {
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

  private update(id: string, change: (current: ConsultaRecord) => ConsultaRecord): Promise<ConsultaRecord> {
    const { store, consultas, clock, timezone } = this.deps;
    return store.transact((tx) => {
      const current = this.get(id);
      if (current.status !== 'agendada') {
        throw new AppError('STATUS_INVALIDO', `A consulta está ${current.status}; só consultas agendadas podem mudar de status.`);
      }
      const updated = { ...change(current), atualizadaEm: formatInstant(clock.now(), timezone) };
      consultas.save(tx, updated);
      return updated;
    });
  }
}
