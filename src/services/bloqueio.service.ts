import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { AppError, notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { assertOwnMedico } from '../core/permissions.js';
import { formatInstant } from '../core/time.js';
import type { ScheduleState } from '../infra/schedule-state.js';
import type { Store } from '../infra/storage/json/store.js';
import type { BloqueioRepository } from '../infra/storage/json/repositories/bloqueio.repository.js';
import type { ConsultaRecord, ConsultaRepository } from '../infra/storage/json/repositories/consulta.repository.js';
import type { MedicoRepository } from '../infra/storage/json/repositories/medico.repository.js';
import type { Bloqueio, BloqueioInput } from '../schemas/bloqueio.schema.js';
import type { Auditor } from './audit.service.js';
import type { FeriadoService } from './feriado.service.js';
import { datesBetween, localDate, slotsForDate, type SlotTime } from './slots.js';

/** Statuses a bloqueio or a change of working hours must not leave stranded: the consultas still to happen. */
const PENDING: ReadonlySet<string> = new Set(['agendada', 'confirmada']);
/** The longest consulta (`duracaoConsultaMin` ≤ 240): how far back an overlapping one can start. */
const LONGEST_MS = 240 * 60_000;
/** Freed slots announced when a bloqueio is removed: the next this-many days, at most this many slots. */
export const FREED_DAYS = 31;
export const FREED_MAX = 500;

/** `agendada`/`confirmada` consultas of the médico overlapping [fromMs, toMs). */
export function pendingOverlapping(consultas: ConsultaRepository, medicoId: string, fromMs: number, toMs: number): ConsultaRecord[] {
  return consultas
    .forMedicoBetween(medicoId, fromMs - LONGEST_MS, toMs)
    .filter((c) => PENDING.has(c.status) && Date.parse(c.fim) > fromMs);
}

/** 409 `/problemas/consultas-afetadas`, listing the consultas in `consultas`. */
export function consultasAfetadas(detail: string, affected: readonly ConsultaRecord[]): AppError {
  return new AppError('CONSULTAS_AFETADAS', detail, undefined, { extras: { consultas: affected.map((c) => c.id) } });
}

export type SlotsFreedListener = (medicoId: string, slots: readonly SlotTime[]) => void;

export interface BloqueioServiceDeps {
  store: Store;
  bloqueios: BloqueioRepository;
  medicos: MedicoRepository;
  consultas: ConsultaRepository;
  feriados: FeriadoService;
  schedule: ScheduleState;
  auditor: Auditor;
  clock: Clock;
  timezone: string;
  logger: Logger;
}

/**
 * A médico's time off, and the one answer to "is this slot blocked?" (a bloqueio, a holiday that is not a
 * ponto facultativo, or an inactive médico) that the agenda shows and the booking rules enforce.
 */
export class BloqueioService {
  private readonly freedListeners = new Set<SlotsFreedListener>();

  constructor(private readonly deps: BloqueioServiceDeps) {}

  list(medicoId: string): { items: Bloqueio[] } {
    assertOwnMedico('bloqueios', medicoId);
    if (!this.deps.medicos.get(medicoId)) throw notFound('Médico');
    return { items: this.deps.bloqueios.ofMedico(medicoId).map((s) => s.bloqueio) };
  }

  async create(medicoId: string, input: BloqueioInput): Promise<Bloqueio> {
    assertOwnMedico('bloqueios', medicoId);
    const { store, bloqueios, medicos, consultas, timezone } = this.deps;
    const inicioMs = Date.parse(input.inicio);
    const fimMs = Date.parse(input.fim);
    const bloqueio = await store.transact((tx) => {
      if (!medicos.get(medicoId)) throw notFound('Médico');
      const affected = pendingOverlapping(consultas, medicoId, inicioMs, fimMs);
      if (affected.length > 0) {
        throw consultasAfetadas(`O bloqueio cobre ${affected.length} consulta(s) agendada(s); cancele ou remarque antes.`, affected);
      }
      const created: Bloqueio = {
        id: randomUUID(), medicoId, inicio: formatInstant(inicioMs, timezone), fim: formatInstant(fimMs, timezone), motivo: input.motivo,
        criadoEm: formatInstant(this.deps.clock.now(), timezone),
      };
      bloqueios.save(tx, created);
      this.deps.auditor.stage(tx, { acao: 'bloqueio.criar', recurso: 'bloqueio', recursoId: created.id, status: 201 });
      return created;
    });
    this.deps.logger.info({ bloqueioId: bloqueio.id, medicoId }, 'bloqueio criado');
    return bloqueio;
  }

  async remove(id: string): Promise<void> {
    const removed = await this.deps.store.transact((tx) => {
      const bloqueio = this.deps.bloqueios.get(id);
      if (!bloqueio) throw notFound('Bloqueio');
      assertOwnMedico('bloqueios', bloqueio.medicoId);
      this.deps.bloqueios.remove(tx, id);
      this.deps.auditor.stage(tx, { acao: 'bloqueio.excluir', recurso: 'bloqueio', recursoId: id, status: 204 });
      return bloqueio;
    });
    this.deps.logger.info({ bloqueioId: id, medicoId: removed.medicoId }, 'bloqueio excluído');
    this.announceFreed(removed);
  }

  /**
   * Why a slot cannot be booked though nobody holds it, or undefined: the médico is inactive, a bloqueio
   * overlaps it, or it falls on a holiday that closes the clinic.
   */
  blockedAt(medicoId: string, inicioMs: number, fimMs: number): { motivo: string } | undefined {
    const medico = this.deps.medicos.get(medicoId);
    if (medico && !medico.ativo) return { motivo: MEDICO_INATIVO };
    const bloqueio = this.deps.bloqueios.overlapping(medicoId, inicioMs, fimMs);
    if (bloqueio) return { motivo: bloqueio.motivo };
    const feriado = this.holidayOf(inicioMs);
    return feriado ? { motivo: feriado } : undefined;
  }

  /** The name of the closing holiday a slot falls on (by the local date it starts on). */
  holidayOf(inicioMs: number): string | undefined {
    return this.deps.feriados.closingOn(localDate(inicioMs, this.deps.timezone))?.nome;
  }

  /**
   * Subscribes to "a bloqueio was removed and these slots became `disponivel`" (the next {@link FREED_DAYS}
   * days from now, at most {@link FREED_MAX} slots). Returns the unsubscribe function.
   */
  onSlotsFreed(listener: SlotsFreedListener): () => void {
    this.freedListeners.add(listener);
    return () => this.freedListeners.delete(listener);
  }

  private announceFreed(bloqueio: Bloqueio): void {
    if (this.freedListeners.size === 0) return;
    const { medicos, consultas, schedule, timezone, clock } = this.deps;
    const medico = medicos.get(bloqueio.medicoId);
    if (!medico || !medico.ativo) return;
    const now = clock.now().getTime();
    const from = Math.max(now, Date.parse(bloqueio.inicio));
    const to = Math.min(Date.parse(bloqueio.fim), now + FREED_DAYS * 86_400_000);
    if (from >= to) return;
    const freed: SlotTime[] = [];
    for (const date of datesBetween(localDate(from, timezone), localDate(to - 1, timezone))) {
      for (const slot of slotsForDate(medico, date, timezone)) {
        if (slot.inicioMs <= now || slot.fimMs <= from || slot.inicioMs >= to) continue;
        if (schedule.isReserved(medico.id, slot.inicioMs) || consultas.medicoConflict(medico.id, slot.inicioMs, slot.fimMs)) continue;
        if (this.blockedAt(medico.id, slot.inicioMs, slot.fimMs)) continue;
        freed.push(slot);
        if (freed.length >= FREED_MAX) break;
      }
      if (freed.length >= FREED_MAX) break;
    }
    if (freed.length === 0) return;
    for (const listener of this.freedListeners) {
      try {
        listener(medico.id, freed);
      } catch (error) {
        this.deps.logger.warn({ err: error }, 'ouvinte de horários liberados falhou');
      }
    }
  }
}

export const MEDICO_INATIVO = 'Médico inativo';
