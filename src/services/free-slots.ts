import type { ScheduleState } from '../domain/schedule-state.js';
import type { SlotStates } from '../domain/slot-states.js';
import { nextDate, type SlotTime } from '../domain/slots.js';
import { COLLECTIONS } from '../repositories/collections.js';
import type { ChangeFeed } from '../repositories/port.js';
import type { Medico } from '../schemas/medico.schema.js';

export interface FreeSlotCacheDeps {
  slotStates: Pick<SlotStates, 'sweep'>;
  changes: ChangeFeed;
  schedule: ScheduleState;
  clock: { now(): Date };
}

/** Médico-days kept before the cache starts over (a day's free slots are a few dozen pairs of numbers). */
const MAX_CACHED_DAYS = 50_000;
/** A miss reads this many days of the médico at once (one read of consultas, bloqueios and holidays). */
const CHUNK_DAYS = 14;

interface Entry {
  medico: Medico;
  days: Map<string, readonly SlotTime[]>;
}

/**
 * The `disponivel` slots of a médico's day, kept until something that could change them happens: a slot event
 * of that médico (reserve, commit, release — this process's or another's, seen on the change feed), a change to
 * the médico, any bloqueio or holiday change, or a reset of the feed. Time passing only turns free slots into
 * `passado`, which readers filter by `now` themselves. `GET /horarios-livres` walks many médico-days per
 * request: cold, a month of 50 fully booked médicos is 100k slot states (read a fortnight per médico at a time);
 * warm, 1,700 map lookups.
 */
export class FreeSlotCache {
  private readonly byMedico = new Map<string, Entry>();
  /** Bumped by every invalidation: a fill that awaited storage meanwhile is answered but not kept. */
  private readonly generation = new Map<string, number>();
  private epoch = 0;
  private size = 0;

  constructor(private readonly deps: FreeSlotCacheDeps) {
    deps.schedule.subscribe((event) => (event.type === 'resync' ? this.clear() : this.forget(event.medicoId)));
    deps.changes.onCommit((changes) => {
      for (const change of changes) {
        if (change.collection === COLLECTIONS.medicos) this.forget(change.id);
        else if (change.collection === COLLECTIONS.bloqueios || change.collection === COLLECTIONS.feriados) this.clear();
      }
    });
    deps.changes.onReset(() => this.clear());
  }

  /** The médico's free slots starting on `date`, in order. */
  async freeOn(medico: Medico, date: string): Promise<readonly SlotTime[]> {
    const entry = this.byMedico.get(medico.id);
    // The médico changed (its working hours, its status): its days are stale.
    if (entry && !sameSchedule(entry.medico, medico)) this.forget(medico.id);
    const hit = this.byMedico.get(medico.id)?.days.get(date);
    if (hit) return hit;

    const version = this.versionOf(medico.id);
    const dates = [date];
    for (let i = 1; i < CHUNK_DAYS; i++) dates.push(nextDate(dates[i - 1]!));
    const sweep = await this.deps.slotStates.sweep(medico, dates[0]!, dates[dates.length - 1]!, this.deps.clock.now().getTime());
    const chunk = dates.map((day) => {
      const free: SlotTime[] = [];
      sweep.visit(day, sweep.cuts(day), (inicioMs, fimMs, estado) => {
        if (estado === 'disponivel') free.push({ inicioMs, fimMs });
      });
      return [day, free] as const;
    });
    // Something changed while storage was read: the answer is right as of its start, but not kept.
    if (this.versionOf(medico.id) !== version) return chunk[0]![1];
    if (this.size + chunk.length > MAX_CACHED_DAYS) this.clear();
    let kept = this.byMedico.get(medico.id);
    if (!kept) this.byMedico.set(medico.id, (kept = { medico, days: new Map() }));
    for (const [day, free] of chunk) {
      if (!kept.days.has(day)) this.size++;
      kept.days.set(day, free);
    }
    return chunk[0]![1];
  }

  private versionOf(medicoId: string): string {
    return `${this.epoch}.${this.generation.get(medicoId) ?? 0}`;
  }

  private forget(medicoId: string): void {
    this.generation.set(medicoId, (this.generation.get(medicoId) ?? 0) + 1);
    const entry = this.byMedico.get(medicoId);
    if (!entry) return;
    this.size -= entry.days.size;
    this.byMedico.delete(medicoId);
  }

  private clear(): void {
    this.byMedico.clear();
    this.size = 0;
    this.epoch++;
  }
}

/**
 * The same médico record as far as its slots go. A driver that keeps records in memory hands out the same
 * object until the record changes; one that reads fresh objects does not, and every change of a médico sets
 * `atualizadoEm`.
 */
function sameSchedule(a: Medico, b: Medico): boolean {
  return a === b || (a.atualizadoEm === b.atualizadoEm && a.ativo === b.ativo);
}
