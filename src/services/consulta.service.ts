import type { Clock } from '../core/clock.js';
import { currentActor } from '../core/context.js';
import { AppError, notFound } from '../core/errors.js';
import { TRANSICOES, assertTransicao, type StatusDestino } from '../domain/consulta-status.js';
import type { Logger } from '../core/logger.js';
import { formatInstant } from '../core/time.js';
import { assertOwnMedico, ownMedicoOnly, scopeOf } from '../core/permissions.js';
import { nextDate, startOfDate } from '../domain/slots.js';
import type { ConsultaRecord, Page, Reads, StoragePort } from '../repositories/port.js';
import type { Auditor } from './audit.service.js';
import type { AtualizarStatusInput, ListConsultasQuery } from '../schemas/consulta.schema.js';

export interface ConsultaServiceDeps {
  storage: StoragePort;
  clock: Clock;
  timezone: string;
  logger: Logger;
  auditor: Auditor;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** Reading consultas, and the status changes that need no new slot (all through one state machine). */
export class ConsultaService {
  constructor(private readonly deps: ConsultaServiceDeps) {}

  /** One consulta, read by the acting user (recorded in the audit trail). */
  async get(id: string): Promise<ConsultaRecord> {
    const consulta = await this.record(this.deps.storage, id);
    assertOwnMedico('consultas:ler', consulta.medicoId);
    await this.deps.auditor.record({ acao: 'consulta.ler', recurso: 'consulta', recursoId: id, pacienteIds: [consulta.pacienteId], status: 200 });
    return consulta;
  }

  /** A page of consultas; a médico user sees only their own (asking for another médico's is refused). */
  async list(query: ListConsultasQuery): Promise<Page<ConsultaRecord>> {
    const own = ownMedicoOnly('consultas:ler');
    if (own !== undefined && query.medicoId !== undefined && query.medicoId !== own) assertOwnMedico('consultas:ler', query.medicoId);
    const page = await this.page(own === undefined ? query : { ...query, medicoId: own });
    await this.deps.auditor.record({ acao: 'consulta.listar', recurso: 'consulta', pacienteIds: page.items.map((c) => c.pacienteId), status: 200 });
    return page;
  }

  private async record(reads: Pick<Reads, 'consultas'>, id: string): Promise<ConsultaRecord> {
    const consulta = await reads.consultas.get(id);
    if (!consulta) throw notFound('Consulta', 'a');
    return consulta;
  }

  private page(query: ListConsultasQuery): Promise<Page<ConsultaRecord>> {
    const zone = this.deps.timezone;
    // A date means the whole day in the clinic's zone: `de` from its first instant, `ate` to its last.
    const fromMs = query.de === undefined ? undefined : DATE_ONLY.test(query.de) ? startOfDate(query.de, zone) : Date.parse(query.de);
    const toMs =
      query.ate === undefined ? undefined : DATE_ONLY.test(query.ate) ? startOfDate(nextDate(query.ate), zone) - 1 : Date.parse(query.ate);
    return this.deps.storage.consultas.list({ ...query, fromMs, toMs });
  }

  /** `agendada | confirmada → cancelada`, before the start only (after it, `faltou`); the commit frees the slot. */
  async cancelar(id: string, motivo: string | null | undefined): Promise<ConsultaRecord> {
    return this.transition(id, 'cancelada', 'consulta.cancelar', (current) => ({ ...current, motivoCancelamento: motivo ?? null }));
  }

  /** Check-in: `agendada | confirmada → aguardando`, from 2 hours before the start; records `chegouEm`. */
  async checkin(id: string): Promise<ConsultaRecord> {
    return this.transition(id, 'aguardando', 'consulta.checkin', (current, now) => ({ ...current, chegouEm: now }));
  }

  /** `PATCH /consultas/{id}`: confirmada, em_atendimento, realizada or faltou, as the state machine allows. */
  async atualizarStatus(id: string, input: AtualizarStatusInput): Promise<ConsultaRecord> {
    return this.transition(id, input.status, `consulta.${input.status}`, (current) => ({
      ...current,
      observacoes: input.observacoes ?? current.observacoes,
    }));
  }

  /**
   * Every status change: the state machine (src/domain/consulta-status.ts) decides, against the record read
   * inside the unit of work, at the clock's now; the change and its audit entry commit together, and the
   * commit is what the agenda stream reports (`consulta_status`, and the slot's event when it frees).
   */
  private async transition(
    id: string,
    para: StatusDestino,
    acao: string,
    change: (current: ConsultaRecord, now: string) => ConsultaRecord,
  ): Promise<ConsultaRecord> {
    const { storage, clock, timezone, auditor, logger } = this.deps;
    // The route's gate is `consultas:status`; confirming asks `consultas:escrever`: the table names which.
    const { permission } = TRANSICOES[para];
    const actor = currentActor();
    if (actor && !scopeOf(actor.papel, permission)) throw new AppError('ACESSO_NEGADO', 'Seu usuário não pode fazer esta mudança de status.');
    assertOwnMedico(permission, (await this.record(storage, id)).medicoId);
    const updated = await storage.run(async (tx) => {
      const current = await this.record(tx, id);
      assertTransicao(current.status, para, Date.parse(current.inicio), clock.now().getTime());
      const now = formatInstant(clock.now(), timezone);
      const next: ConsultaRecord = { ...change(current, now), status: para, atualizadaEm: now };
      await tx.consultas.save(next);
      await auditor.stage(tx, { acao, recurso: 'consulta', recursoId: id, pacienteIds: [current.pacienteId], status: 200 });
      return next;
    });
    logger.info({ consultaId: id, status: para }, 'status da consulta atualizado');
    return updated;
  }
}
