import type { Clock } from '../core/clock.js';
import type { Slice, TimeSlicer } from '../core/time-slice.js';
import { notFound } from '../core/errors.js';
import { assertOwnMedico, ownMedicoOnly } from '../core/permissions.js';
import { formatInstant } from '../core/time.js';
import { limiteMs } from '../domain/janela.js';
import { localDate, nextDate, startOfDate, type SlotTime } from '../domain/slots.js';
import { fold } from '../domain/text.js';
import type { MedicoReads } from '../repositories/port.js';
import type { HorarioLivre, HorariosLivresQuery } from '../schemas/lista-espera.schema.js';
import type { Medico } from '../schemas/medico.schema.js';

export interface HorariosLivresDeps {
  medicos: Pick<MedicoReads, 'get' | 'all'>;
  /** Each médico-day's free slots (cached: see FreeSlotCache). */
  freeOn: (medico: Medico, date: string) => Promise<readonly SlotTime[]>;
  clock: Clock;
  timezone: string;
  /** How far ahead bookings are taken (AGENDA_HORIZONTE_DIAS): no slot past it is offered. */
  horizonDays: number;
  /** The CPU quantum shared with long agendas: a cold walk over many médico-days is done a médico-day at a time. */
  slicer: TimeSlicer;
}

const DAY_MS = 86_400_000;

/**
 * "The first cardiologist available": the next `disponivel` slots across médicos, in order of start.
 *
 * It walks local dates forward from `de`, and on each date merges the matching médicos' free slots (a slot
 * belongs to the date it starts on, so dates in order give starts in order); it stops as soon as `limit` slots
 * are found, or at the booking horizon. Each médico-day's free slots come from a cache that the médico's slot
 * events invalidate (FreeSlotCache): a fully booked year for ten médicos is 3,650 map lookups once warm.
 */
export class HorariosLivresService {
  constructor(private readonly deps: HorariosLivresDeps) {}

  next(query: HorariosLivresQuery): Promise<{ items: HorarioLivre[] }> {
    return this.deps.slicer.run((slice) => this.walk(slice, query));
  }

  private async walk(slice: Slice, query: HorariosLivresQuery): Promise<{ items: HorarioLivre[] }> {
    const { clock, timezone, freeOn } = this.deps;
    let walked = 0;
    const medicos = await this.candidates(query);
    const now = clock.now().getTime();
    const fromMs = Math.max(now, query.de === undefined ? now : limiteMs(query.de, 'de', timezone));
    const horizonMs = now + this.deps.horizonDays * DAY_MS;
    const items: HorarioLivre[] = [];
    if (medicos.length === 0) return { items };
    for (let date = localDate(fromMs, timezone); startOfDate(date, timezone) <= horizonMs; date = nextDate(date)) {
      const day: { medicoId: string; inicioMs: number; fimMs: number }[] = [];
      for (const medico of medicos) {
        if (walked++ > 0 && slice.spent()) await slice.pause(); // the first médico-day never waits
        for (const slot of await freeOn(medico, date)) {
          if (slot.inicioMs >= fromMs && slot.inicioMs <= horizonMs) {
            day.push({ medicoId: medico.id, inicioMs: slot.inicioMs, fimMs: slot.fimMs });
          }
        }
      }
      day.sort((a, b) => a.inicioMs - b.inicioMs || (a.medicoId < b.medicoId ? -1 : a.medicoId > b.medicoId ? 1 : 0));
      for (const slot of day) {
        items.push({ medicoId: slot.medicoId, inicio: formatInstant(slot.inicioMs, timezone), fim: formatInstant(slot.fimMs, timezone) });
        if (items.length >= query.limit) return { items };
      }
    }
    return { items };
  }

  /**
   * The médicos to look at: active, with working hours, of the especialidade if asked. A médico user looks
   * at its own agenda only (asking for another médico is refused, as for the agenda itself).
   */
  private async candidates(query: HorariosLivresQuery): Promise<Medico[]> {
    const own = ownMedicoOnly('agenda:ler');
    if (own !== undefined && query.medicoId !== undefined) assertOwnMedico('agenda:ler', query.medicoId);
    const medicoId = own ?? query.medicoId;
    let medicos: readonly Medico[];
    if (medicoId !== undefined) {
      const medico = await this.deps.medicos.get(medicoId);
      if (!medico && own === undefined) throw notFound('Médico');
      medicos = medico ? [medico] : [];
    } else {
      // Every médico, by name (inactive ones are dropped below): the same order the list gave.
      medicos = await this.deps.medicos.all();
    }
    const especialidade = query.especialidade === undefined ? undefined : fold(query.especialidade);
    return medicos.filter((m) => m.ativo && m.horarios.length > 0 && (especialidade === undefined || fold(m.especialidade) === especialidade));
  }
}
