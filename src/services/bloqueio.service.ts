import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { AppError, notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { assertOwnMedico } from '../core/permissions.js';
import { formatInstant } from '../core/time.js';
import { holdsSlot } from '../domain/consulta-status.js';
import type { ScheduleState } from '../domain/schedule-state.js';
import { MEDICO_INATIVO } from '../domain/slot-states.js';
import { datesBetween, localDate, LONGEST_CONSULTA_MS, slotsForDate, type SlotTime } from '../domain/slots.js';
import type { ConsultaReads, ConsultaRecord, Reads, StoragePort } from '../repositories/port.js';
import type { Bloqueio, BloqueioInput } from '../schemas/bloqueio.schema.js';
import type { Auditor } from './audit.service.js';
import type { FeriadoService } from './feriado.service.js';

/** Statuses a bloqueio or a change of working hours must not leave stranded: the consultas still to happen. */
const PENDING: ReadonlySet<string> = new Set(['agendada', 'confirmada']);
/** Freed slots announced when a bloqueio is removed: the next this-many days, at most this many slots. */
export const FREED_DAYS = 31;
export const FREED_MAX = 500;

/** `agendada`/`confirmada` consultas of the médico overlapping [fromMs, toMs). */
export async function pendingOverlapping(consultas: Pick<ConsultaReads, 'forMedicoBetween'>, medicoId: string, fromMs: number, toMs: number): Promise<ConsultaRecord[]> {
  return (await consultas.forMedicoBetween(medicoId, fromMs - LONGEST_CONSULTA_MS, toMs)).filter((c) => PENDING.has(c.status) && Date.parse(c.fim) > fromMs);
}

/** 409 `/problemas/consultas-afetadas`, listing the consultas in `consultas`. */
export function consultasAfetadas(detail: string, affected: readonly ConsultaRecord[]): AppError {
  return new AppError('CONSULTAS_AFETADAS', detail, undefined, { extras: { consultas: affected.map((c) => c.id) } });
}

export type SlotsFreedListener = (medicoId: string, slots: readonly SlotTime[]) => void;

/** What {@link BloqueioService.blockedAt} reads: the storage port, or a unit of work when a rule runs inside one. */
export type BlockReads = Pick<Reads, 'medicos' | 'bloqueios' | 'feriados'>;

export interface BloqueioServiceDeps {
  storage: StoragePort;
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

  async list(medicoId: string): Promise<{ items: Bloqueio[] }> {
    assertOwnMedico('bloqueios', medicoId);
    const { storage } = this.deps;
    if (!(await storage.medicos.get(medicoId))) throw notFound('Médico');
    return { items: await storage.bloqueios.ofMedico(medicoId) };
  }

  async create(medicoId: string, input: BloqueioInput): Promise<Bloqueio> {
    assertOwnMedico('bloqueios', medicoId);
    const { storage, timezone } = this.deps;
    const inicioMs = Date.parse(input.inicio);
    const fimMs = Date.parse(input.fim);
    const bloqueio = await storage.run(async (tx) => {
      if (!(await tx.medicos.get(medicoId))) throw notFound('Médico');
      const affected = await pendingOverlapping(tx.consultas, medicoId, inicioMs, fimMs);
      if (affected.length > 0) {
        throw consultasAfetadas(`O bloqueio cobre ${affected.length === 1 ? '1 consulta agendada' : `${affected.length} consultas agendadas`}; cancele ou remarque antes.`, affected);
      }
      const created: Bloqueio = {
        id: randomUUID(), medicoId, inicio: formatInstant(inicioMs, timezone), fim: formatInstant(fimMs, timezone), motivo: input.motivo,
        criadoEm: formatInstant(this.deps.clock.now(), timezone),
      };
      await tx.bloqueios.save(created);
      await this.deps.auditor.stage(tx, { acao: 'bloqueio.criar', recurso: 'bloqueio', recursoId: created.id, status: 201 });
      return created;
    });
    this.deps.logger.info({ bloqueioId: bloqueio.id, medicoId }, 'bloqueio criado');
    return bloqueio;
  }

  async remove(id: string): Promise<void> {
    const removed = await this.deps.storage.run(async (tx) => {
      const bloqueio = await tx.bloqueios.get(id);
      if (!bloqueio) throw notFound('Bloqueio');
      assertOwnMedico('bloqueios', bloqueio.medicoId);
      await tx.bloqueios.remove(id);
      await this.deps.auditor.stage(tx, { acao: 'bloqueio.excluir', recurso: 'bloqueio', recursoId: id, status: 204 });
      return bloqueio;
    });
    this.deps.logger.info({ bloqueioId: id, medicoId: removed.medicoId }, 'bloqueio excluído');
    // Told before the answer leaves, so a client that refetches after the 204 has already had its events.
    await this.announceFreed(removed);
  }

  /**
   * Why a slot cannot be booked though nobody holds it, or undefined: the médico is inactive, a bloqueio
   * overlaps it, or it falls on a holiday that closes the clinic. Reads through `reads`: a unit of work when
   * the booking worker asks inside one.
   */
  async blockedAt(reads: BlockReads, medicoId: string, inicioMs: number, fimMs: number): Promise<{ motivo: string } | undefined> {
    return (await this.blocksOn(reads, medicoId, localDate(inicioMs, this.deps.timezone)))(inicioMs, fimMs);
  }

  /**
   * {@link blockedAt} in two steps: everything it reads for a médico's slots starting on `date` (YYYY-MM-DD),
   * read at once (the médico, their bloqueios and the day's holidays: one round trip on PostgreSQL), then a
   * check of any time span of that day without I/O. The booking rules read this beside the médico and the
   * paciente, before they know the slot's end.
   */
  async blocksOn(reads: BlockReads, medicoId: string, date: string): Promise<(inicioMs: number, fimMs: number) => { motivo: string } | undefined> {
    const [medico, bloqueios, feriado] = await Promise.all([
      reads.medicos.get(medicoId),
      reads.bloqueios.ofMedico(medicoId),
      this.deps.feriados.closingOn(date, reads),
    ]);
    return (inicioMs, fimMs) => {
      if (medico && !medico.ativo) return { motivo: MEDICO_INATIVO };
      const bloqueio = bloqueios.find((b) => Date.parse(b.inicio) < fimMs && Date.parse(b.fim) > inicioMs);
      if (bloqueio) return { motivo: bloqueio.motivo };
      return feriado ? { motivo: feriado.nome } : undefined;
    };
  }

  /**
   * Subscribes to "a bloqueio was removed and these slots became `disponivel`" (the next {@link FREED_DAYS}
   * days from now, at most {@link FREED_MAX} slots). Returns the unsubscribe function.
   */
  onSlotsFreed(listener: SlotsFreedListener): () => void {
    this.freedListeners.add(listener);
    return () => this.freedListeners.delete(listener);
  }

  /**
   * The slots a removed bloqueio gave back: the médico's, inside its span and the next FREED_DAYS, that nobody
   * holds or reserves and that nothing else blocks. What that needs is read once (consultas, bloqueios and
   * holidays of the range), then the slots are walked without I/O.
   */
  private async announceFreed(bloqueio: Bloqueio): Promise<void> {
    if (this.freedListeners.size === 0) return;
    const { storage, feriados, schedule, timezone, clock } = this.deps;
    try {
      const medico = await storage.medicos.get(bloqueio.medicoId);
      if (!medico || !medico.ativo) return;
      const now = clock.now().getTime();
      const from = Math.max(now, Date.parse(bloqueio.inicio));
      const to = Math.min(Date.parse(bloqueio.fim), now + FREED_DAYS * 86_400_000);
      if (from >= to) return;
      const firstDate = localDate(from, timezone);
      const lastDate = localDate(to - 1, timezone);
      const [consultas, bloqueios, closures] = await Promise.all([
        storage.consultas.forMedicoBetween(medico.id, from - LONGEST_CONSULTA_MS, to),
        storage.bloqueios.ofMedico(medico.id),
        feriados.closures(firstDate, lastDate),
      ]);
      const held = consultas.filter(holdsSlot).map((c) => ({ inicioMs: Date.parse(c.inicio), fimMs: Date.parse(c.fim) }));
      const blocks = bloqueios.map((b) => ({ inicioMs: Date.parse(b.inicio), fimMs: Date.parse(b.fim) }));
      const overlaps = (spans: readonly SlotTime[], slot: SlotTime) => spans.some((s) => s.inicioMs < slot.fimMs && s.fimMs > slot.inicioMs);
      const freed: SlotTime[] = [];
      for (const date of datesBetween(firstDate, lastDate)) {
        if (closures(date) !== undefined) continue;
        for (const slot of slotsForDate(medico, date, timezone)) {
          if (slot.inicioMs <= now || slot.fimMs <= from || slot.inicioMs >= to) continue;
          if (schedule.isReserved(medico.id, slot.inicioMs) || overlaps(held, slot) || overlaps(blocks, slot)) continue;
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
    } catch (error) {
      // The bloqueio is gone (committed): a failed announcement must not turn the answer into an error.
      this.deps.logger.warn({ err: error, medicoId: bloqueio.medicoId }, 'aviso de horários liberados falhou');
    }
  }
}
