import type { Clock } from '../core/clock.js';
import { holdsSlot } from '../domain/consulta-status.js';
import type { ScheduleState } from '../infra/schedule-state.js';
import type { Store } from '../infra/storage/store.js';
import { COLLECTIONS } from '../repositories/collections.js';
import type { ConsultaRepository } from '../repositories/consulta.repository.js';
import type { AgendaEstado } from '../schemas/agenda.schema.js';
import type { Medico } from '../schemas/medico.schema.js';
import { slotsForDate, type SlotTime } from './slots.js';

/** A slot of the agenda and its state, as instants. */
export interface SlotState extends SlotTime {
  estado: AgendaEstado;
}

/**
 * A médico's slots of one local date (`YYYY-MM-DD`) with their states: what the agenda shows, without JSON.
 * The waiting list and `GET /horarios-livres` take the agenda's truth through this one function, so they
 * cannot offer a slot the agenda shows as anything but `disponivel`.
 */
export type DaySlotStates = (medico: Medico, date: string) => readonly SlotState[];

/** The longest consulta (`duracaoConsultaMin` ≤ 240): how far back a consulta overlapping a day can start. */
const LONGEST_MS = 240 * 60_000;

export interface InterimDaySlotStatesDeps {
  consultas: ConsultaRepository;
  schedule: ScheduleState;
  clock: Clock;
  timezone: string;
  /** Why a slot nobody holds cannot be booked (a bloqueio, a holiday, an inactive médico), or undefined. */
  blockedAt?: (medicoId: string, inicioMs: number, fimMs: number) => unknown;
}

/**
 * The day's slot states computed from the pieces the agenda is made of: the working-hours grid
 * (`slotsForDate`), `passado` before now, `bloqueado` for an inactive médico or where `blockedAt` says so
 * (bloqueios, holidays), `reservado` for a booking in flight, `ocupado` under a consulta that holds its slot
 * (every status but `cancelada`; encaixes hold none). Interim: when the agenda service offers a day's states
 * itself, the composition root passes that instead, and the two cannot disagree.
 */
export function interimDaySlotStates(deps: InterimDaySlotStatesDeps): DaySlotStates {
  return (medico, date) => {
    const cuts = slotsForDate(medico, date, deps.timezone);
    if (cuts.length === 0) return [];
    if (!medico.ativo) return cuts.map((s) => ({ ...s, estado: 'bloqueado' }));
    const now = deps.clock.now().getTime();
    // Consultas come in order of start, and those holding a slot never overlap one another (the booking rules
    // see to it), so their ends are in order too: one sweep matches them with the slots, O(slots + consultas).
    const held = deps.consultas.forMedicoBetween(medico.id, cuts[0]!.inicioMs - LONGEST_MS, cuts[cuts.length - 1]!.fimMs).filter(holdsSlot);
    const starts = held.map((c) => instantMs(c.inicio));
    const ends = held.map((c) => instantMs(c.fim));
    const anyReserved = deps.schedule.reservedCount > 0;
    let j = 0;
    return cuts.map((s): SlotState => {
      if (s.inicioMs < now) return { ...s, estado: 'passado' };
      while (j < ends.length && ends[j]! <= s.inicioMs) j++;
      if (j < starts.length && starts[j]! < s.fimMs) return { ...s, estado: 'ocupado' };
      if (anyReserved && deps.schedule.isReserved(medico.id, s.inicioMs)) return { ...s, estado: 'reservado' };
      // Asked last: only for slots that are otherwise free.
      if (deps.blockedAt?.(medico.id, s.inicioMs, s.fimMs)) return { ...s, estado: 'bloqueado' };
      return { ...s, estado: 'disponivel' };
    });
  };
}

/**
 * ms since the epoch of a stored instant. Every stored instant is `YYYY-MM-DDTHH:mm:ss±HH:MM` (formatInstant),
 * read here digit by digit; anything else goes to `Date.parse`. V8's `Date.parse` takes about 1.5 µs on such a
 * string: a GET /horarios-livres that walks a month of 50 fully booked médicos parses 200k of them, and spent
 * most of its time there.
 */
export function instantMs(text: string): number {
  if (text.length === 25 && text.charCodeAt(10) === 84 /* T */ && text.charCodeAt(22) === 58 /* : */) {
    const sign = text.charCodeAt(19) === 45 /* - */ ? -1 : text.charCodeAt(19) === 43 /* + */ ? 1 : NaN;
    const local = Date.UTC(digits(text, 0, 4), digits(text, 5, 2) - 1, digits(text, 8, 2), digits(text, 11, 2), digits(text, 14, 2), digits(text, 17, 2));
    const ms = local - sign * (digits(text, 20, 2) * 60 + digits(text, 23, 2)) * 60_000;
    if (!Number.isNaN(ms)) return ms;
  }
  return Date.parse(text);
}

/** The number written by `length` ASCII digits from `start`, or NaN. */
function digits(text: string, start: number, length: number): number {
  let value = 0;
  for (let i = start; i < start + length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    value = value * 10 + d;
  }
  return value;
}

export interface FreeSlotCacheDeps {
  daySlots: DaySlotStates;
  store: Store;
  schedule: ScheduleState;
}

/** Médico-days kept before the cache starts over (a day's free slots are a few dozen pairs of numbers). */
const MAX_CACHED_DAYS = 50_000;

/**
 * The `disponivel` slots of a médico's day, kept until something that could change them happens: a slot event
 * of that médico (reserve, commit, release — this process's or read from another's journal), a change to the
 * médico (a new record object), any bloqueio or holiday change, or a full reload. Time passing only turns free
 * slots into `passado`, which readers filter by `now` themselves. `GET /horarios-livres` walks many médico-days
 * per request: cold, a month of 50 fully booked médicos is 100k slot states; warm, 1,700 map lookups.
 */
export class FreeSlotCache {
  private readonly byMedico = new Map<string, { medico: Medico; days: Map<string, readonly SlotTime[]> }>();
  private size = 0;

  constructor(private readonly deps: FreeSlotCacheDeps) {
    deps.schedule.subscribe((event) => (event.type === 'resync' ? this.clear() : this.forget(event.medicoId)));
    deps.store.subscribe({
      change: (change) => {
        if (change.collection === COLLECTIONS.medicos) this.forget(change.id);
        else if (change.collection === COLLECTIONS.bloqueios || change.collection === COLLECTIONS.feriados) this.clear();
      },
      reset: () => this.clear(),
    });
  }

  /** The médico's free slots starting on `date`, in order. */
  freeOn(medico: Medico, date: string): readonly SlotTime[] {
    let entry = this.byMedico.get(medico.id);
    if (entry && entry.medico !== medico) this.forget(medico.id); // the médico changed: its days are stale
    const hit = entry?.medico === medico ? entry.days.get(date) : undefined;
    if (hit) return hit;
    if (this.size >= MAX_CACHED_DAYS) this.clear();
    entry = this.byMedico.get(medico.id);
    if (!entry) this.byMedico.set(medico.id, (entry = { medico, days: new Map() }));
    const free = this.deps.daySlots(medico, date).filter((s) => s.estado === 'disponivel').map(({ inicioMs, fimMs }) => ({ inicioMs, fimMs }));
    entry.days.set(date, free);
    this.size++;
    return free;
  }

  private forget(medicoId: string): void {
    const entry = this.byMedico.get(medicoId);
    if (!entry) return;
    this.size -= entry.days.size;
    this.byMedico.delete(medicoId);
  }

  private clear(): void {
    this.byMedico.clear();
    this.size = 0;
  }
}
