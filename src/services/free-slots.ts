import type { ScheduleState } from '../infra/schedule-state.js';
import type { Store } from '../infra/storage/json/store.js';
import { COLLECTIONS } from '../repositories/collections.js';
import type { Medico } from '../schemas/medico.schema.js';
import type { DaySlotStates } from './slot-states.js';
import type { SlotTime } from './slots.js';

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
