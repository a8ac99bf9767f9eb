import { instantMs } from '../core/time.js';
import { holdsSlot } from './consulta-status.js';
import type { ScheduleState } from './schedule-state.js';
import type { ConsultaRecord, Reads } from '../repositories/port.js';
import type { AgendaEstado } from '../schemas/agenda.schema.js';
import type { Bloqueio } from '../schemas/bloqueio.schema.js';
import type { Medico } from '../schemas/medico.schema.js';
import { localDate, LONGEST_CONSULTA_MS, slotsForDate, type SlotTime } from './slots.js';

/** The `motivo` of every slot of an inactive médico. */
export const MEDICO_INATIVO = 'Médico inativo';

/** The closing holidays of a range of dates: the name of the one on `date` (`YYYY-MM-DD`), if any. */
export type Closures = (date: string) => string | undefined;

/** Where the holidays that close the clinic come from (FeriadoService): looked up once per range. */
export interface ClosingHolidays {
  closures(firstDate: string, lastDate: string): Promise<Closures>;
}

/** A bloqueio with its times parsed: [inicioMs, fimMs). */
interface BloqueioSpan {
  bloqueio: Bloqueio;
  inicioMs: number;
  fimMs: number;
}

/** Receives each slot of a day in order: its state, the consulta holding it, and why it is `bloqueado`. */
export type SlotVisitor = (inicioMs: number, fimMs: number, estado: AgendaEstado, consultaId: string | undefined, motivo: string | undefined) => void;

/** An encaixe of the range: it holds no slot, the agenda lists it beside them. */
export interface EncaixeSpan {
  id: string;
  inicioMs: number;
  fimMs: number;
}

export interface SlotStatesDeps {
  /** Committed consultas and bloqueios (the storage port). */
  storage: Pick<Reads, 'consultas' | 'bloqueios'>;
  feriados: ClosingHolidays;
  schedule: ScheduleState;
  timezone: string;
}

const DAY_MS = 86_400_000;
const NO_CLOSURES: Closures = () => undefined;

/**
 * The one place that decides a slot's state: the agenda, the waiting list and `GET /horarios-livres` all read
 * slot states through a {@link SlotSweep}, so none can offer a slot the agenda shows as anything but
 * `disponivel`. In order: `reservado` (a booking in flight), `ocupado` (a consulta
 * holds it: any status but `cancelada`, never an encaixe), `bloqueado` (inactive médico, a bloqueio, a closing
 * holiday), `passado` (it has started), else `disponivel`.
 */
export class SlotStates {
  constructor(private readonly deps: SlotStatesDeps) {}

  /**
   * A sweep over the médico's dates from `firstDate` to `lastDate`, visited in order, as of `now`: the range's
   * consultas, bloqueios and holidays are read first (one query each), then every day is computed without I/O.
   */
  sweep(medico: Medico, firstDate: string, lastDate: string, now: number): Promise<SlotSweep> {
    return SlotSweep.load(this.deps, medico, firstDate, lastDate, now);
  }
}

/**
 * The consultas, bloqueios and holidays of a date range, looked up once, then met with each day's slots in order:
 * consultas that hold a slot never overlap one another (the booking rules see to it), so one forward pass
 * matches them with the slots, O(slots + consultas). Dates must be visited in increasing order.
 */
export class SlotSweep {
  /** The range's encaixes, by start (those starting on a date of the range). */
  readonly encaixes: EncaixeSpan[] = [];
  private readonly held: EncaixeSpan[] = [];
  private readonly blocks: readonly BloqueioSpan[];
  private next = 0;

  /** Reads what the range needs, then builds the sweep. */
  static async load(deps: SlotStatesDeps, medico: Medico, firstDate: string, lastDate: string, now: number): Promise<SlotSweep> {
    // A day either side of the UTC dates covers every zone offset.
    const fromMs = Date.parse(`${firstDate}T00:00:00Z`) - DAY_MS;
    const toMs = Date.parse(`${lastDate}T00:00:00Z`) + 2 * DAY_MS;
    const [consultas, bloqueios, closures] = await Promise.all([
      deps.storage.consultas.forMedicoBetween(medico.id, fromMs - LONGEST_CONSULTA_MS, toMs),
      deps.storage.bloqueios.ofMedico(medico.id),
      // An inactive médico's slots are all closed: its holidays are never asked.
      medico.ativo ? deps.feriados.closures(firstDate, lastDate) : NO_CLOSURES,
    ]);
    const blocks: BloqueioSpan[] = [];
    for (const bloqueio of bloqueios) {
      const span = { bloqueio, inicioMs: Date.parse(bloqueio.inicio), fimMs: Date.parse(bloqueio.fim) };
      if (span.inicioMs < toMs && span.fimMs > fromMs) blocks.push(span);
    }
    return new SlotSweep(deps, medico, firstDate, lastDate, now, consultas, blocks, closures);
  }

  private constructor(
    private readonly deps: SlotStatesDeps,
    private readonly medico: Medico,
    firstDate: string,
    lastDate: string,
    private readonly now: number,
    consultas: readonly ConsultaRecord[],
    blocks: readonly BloqueioSpan[],
    private readonly closures: Closures,
  ) {
    for (const c of consultas) {
      if (c.status === 'cancelada') continue;
      const span = { id: c.id, inicioMs: instantMs(c.inicio), fimMs: instantMs(c.fim) };
      if (holdsSlot(c)) this.held.push(span);
      else {
        const day = localDate(span.inicioMs, deps.timezone);
        if (day >= firstDate && day <= lastDate) this.encaixes.push(span);
      }
    }
    this.blocks = blocks;
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
    const closed = this.medico.ativo ? this.closures(date) : MEDICO_INATIVO;
    const anyReserved = schedule.reservedCount > 0;
    for (const { inicioMs, fimMs } of slots) {
      // Consultas by start: skip those that ended before this slot could start (none lasts longer than LONGEST_CONSULTA_MS).
      while (this.next < held.length && held[this.next]!.inicioMs + LONGEST_CONSULTA_MS <= inicioMs) this.next++;
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
