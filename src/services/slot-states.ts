import type { Clock } from '../core/clock.js';
import { instantMs } from '../core/time.js';
import { holdsSlot } from '../domain/consulta-status.js';
import type { ScheduleState } from '../infra/schedule-state.js';
import type { BloqueioRepository, BloqueioSpan } from '../infra/storage/json/repositories/bloqueio.repository.js';
import type { ConsultaRepository } from '../infra/storage/json/repositories/consulta.repository.js';
import type { AgendaEstado } from '../schemas/agenda.schema.js';
import type { Medico } from '../schemas/medico.schema.js';
import { MEDICO_INATIVO } from './bloqueio.service.js';
import type { FeriadoService } from './feriado.service.js';
import { localDate, slotsForDate, type SlotTime } from './slots.js';

/** A slot of the agenda and its state, as instants. */
export interface SlotState extends SlotTime {
  estado: AgendaEstado;
}

/**
 * A médico's slots of one local date (`YYYY-MM-DD`) with their states: what the agenda shows, without JSON.
 * The agenda, the waiting list and `GET /horarios-livres` all read slot states through {@link SlotStates}, so
 * none can offer a slot the agenda shows as anything but `disponivel`.
 */
export type DaySlotStates = (medico: Medico, date: string) => readonly SlotState[];

/** Receives each slot of a day in order: its state, the consulta holding it, and why it is `bloqueado`. */
export type SlotVisitor = (inicioMs: number, fimMs: number, estado: AgendaEstado, consultaId: string | undefined, motivo: string | undefined) => void;

/** An encaixe of the range: it holds no slot, the agenda lists it beside them. */
export interface EncaixeSpan {
  id: string;
  inicioMs: number;
  fimMs: number;
}

export interface SlotStatesDeps {
  consultas: ConsultaRepository;
  bloqueios: BloqueioRepository;
  feriados: FeriadoService;
  schedule: ScheduleState;
  clock: Clock;
  timezone: string;
}

/** The longest consulta (`duracaoConsultaMin` ≤ 240): how far back a consulta overlapping a day can start. */
const LONGEST_MS = 240 * 60_000;
const DAY_MS = 86_400_000;

/**
 * The one place that decides a slot's state. In order: `reservado` (a booking in flight), `ocupado` (a consulta
 * holds it: any status but `cancelada`, never an encaixe), `bloqueado` (inactive médico, a bloqueio, a closing
 * holiday), `passado` (it has started), else `disponivel`.
 */
export class SlotStates {
  constructor(private readonly deps: SlotStatesDeps) {}

  /** A sweep over the médico's dates from `firstDate` to `lastDate`, visited in order, as of `now`. */
  sweep(medico: Medico, firstDate: string, lastDate: string, now: number): SlotSweep {
    return new SlotSweep(this.deps, medico, firstDate, lastDate, now);
  }

  /** One date's slot states as objects (for the waiting list and the free-slot cache). */
  readonly day: DaySlotStates = (medico, date) => {
    const sweep = this.sweep(medico, date, date, this.deps.clock.now().getTime());
    const out: SlotState[] = [];
    sweep.visit(date, sweep.cuts(date), (inicioMs, fimMs, estado) => out.push({ inicioMs, fimMs, estado }));
    return out;
  };
}

/**
 * The consultas and bloqueios of a date range, looked up once, then met with each day's slots in order:
 * consultas that hold a slot never overlap one another (the booking rules see to it), so one forward pass
 * matches them with the slots, O(slots + consultas). Dates must be visited in increasing order.
 */
export class SlotSweep {
  /** The range's encaixes, by start (those starting on a date of the range). */
  readonly encaixes: EncaixeSpan[] = [];
  private readonly held: EncaixeSpan[] = [];
  private readonly blocks: readonly BloqueioSpan[];
  private next = 0;

  constructor(
    private readonly deps: SlotStatesDeps,
    private readonly medico: Medico,
    firstDate: string,
    lastDate: string,
    private readonly now: number,
  ) {
    // A day either side of the UTC dates covers every zone offset.
    const fromMs = Date.parse(`${firstDate}T00:00:00Z`) - DAY_MS;
    const toMs = Date.parse(`${lastDate}T00:00:00Z`) + 2 * DAY_MS;
    for (const c of deps.consultas.forMedicoBetween(medico.id, fromMs - LONGEST_MS, toMs)) {
      if (c.status === 'cancelada') continue;
      const span = { id: c.id, inicioMs: instantMs(c.inicio), fimMs: instantMs(c.fim) };
      if (holdsSlot(c)) this.held.push(span);
      else {
        const day = localDate(span.inicioMs, deps.timezone);
        if (day >= firstDate && day <= lastDate) this.encaixes.push(span);
      }
    }
    this.blocks = deps.bloqueios.ofMedico(medico.id).filter((b) => b.inicioMs < toMs && b.fimMs > fromMs);
  }

  /** The date's slots from the médico's working hours (cached per médico and date). */
  cuts(date: string): readonly SlotTime[] {
    return slotsForDate(this.medico, date, this.deps.timezone);
  }

  /** Visits the date's `slots` (from {@link cuts}) in order with their states. */
  visit(date: string, slots: readonly SlotTime[], visitor: SlotVisitor): void {
    if (slots.length === 0) return;
    const { schedule } = this.deps;
    const { held, blocks, now } = this;
    const medicoId = this.medico.id;
    const closed = this.medico.ativo ? this.deps.feriados.closingOn(date)?.nome : MEDICO_INATIVO;
    const anyReserved = schedule.reservedCount > 0;
    for (const { inicioMs, fimMs } of slots) {
      // Consultas by start: skip those that ended before this slot could start (none lasts longer than LONGEST_MS).
      while (this.next < held.length && held[this.next]!.inicioMs + LONGEST_MS <= inicioMs) this.next++;
      let holder: EncaixeSpan | undefined;
      for (let k = this.next; k < held.length && held[k]!.inicioMs < fimMs; k++) {
        if (held[k]!.fimMs > inicioMs) {
          holder = held[k];
          break;
        }
      }
      if (anyReserved && schedule.isReserved(medicoId, inicioMs)) visitor(inicioMs, fimMs, 'reservado', undefined, undefined);
      else if (holder) visitor(inicioMs, fimMs, 'ocupado', holder.id, undefined);
      else {
        const motivo = this.medico.ativo ? (blocks.find((b) => b.inicioMs < fimMs && b.fimMs > inicioMs)?.bloqueio.motivo ?? closed) : closed;
        if (motivo !== undefined) visitor(inicioMs, fimMs, 'bloqueado', undefined, motivo);
        else visitor(inicioMs, fimMs, inicioMs <= now ? 'passado' : 'disponivel', undefined, undefined);
      }
    }
  }
}
