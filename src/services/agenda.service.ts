import { notFound } from '../core/errors.js';
import type { ScheduleState } from '../infra/schedule-state.js';
import { formatInstant } from '../core/time.js';
import { times, type ConsultaRepository } from '../repositories/consulta.repository.js';
import type { MedicoRepository } from '../repositories/medico.repository.js';
import { assertOwnMedico, ownMedicoOnly } from '../core/permissions.js';
import type { Store } from '../infra/storage/store.js';
import { COLLECTIONS } from '../repositories/collections.js';
import type { Medico } from '../schemas/medico.schema.js';
import type { AgendaQuery, SlotEstado } from '../schemas/consulta.schema.js';
import { datesBetween, slotsForDate } from './slots.js';

export interface AgendaSlot {
  inicio: string;
  fim: string;
  estado: SlotEstado;
  consultaId: string | null;
}

export interface AgendaView {
  medicoId: string;
  timezone: string;
  slots: AgendaSlot[];
}

export interface AgendaServiceDeps {
  store: Store;
  medicos: MedicoRepository;
  consultas: ConsultaRepository;
  schedule: ScheduleState;
  timezone: string;
}

/** Cached answers are dropped all at once past this many bytes (a day's agenda is about 9 kB). */
const MAX_CACHED_BYTES = 8 * 1024 * 1024;

/**
 * The agenda of a médico: slots cut from working hours, each with its current state.
 *
 * Agendas are read far more often than they change, so each answer is kept, as the JSON bytes sent, until
 * something that could change it happens: a slot event of that médico (reserve, commit, release — from this
 * process or read from another's journal), a change to the médico, or a full reload. (Keeping the bytes, not
 * the object, spares each read the serialisation, a sixth of its CPU, and keeps the cache off the V8 heap.)
 */
export class AgendaService {
  private readonly cache = new Map<string, Map<string, Buffer>>();
  private cachedBytes = 0;

  constructor(private readonly deps: AgendaServiceDeps) {
    deps.schedule.subscribe((event) => (event.type === 'resync' ? this.clear() : this.forget(event.medicoId)));
    deps.store.subscribe({
      change: (change) => {
        if (change.collection === COLLECTIONS.medicos) this.forget(change.id);
      },
      reset: () => this.clear(),
    });
  }

  /** The agenda ({@link AgendaView}) as UTF-8 JSON. */
  /**
   * The médico whose events a stream receives: a médico user always gets their own (the filter is forced),
   * others get what they asked for (undefined: every médico). An unknown médico is 404.
   */
  streamTopic(requested: string | undefined): string | undefined {
    const topic = ownMedicoOnly('agenda:ler') ?? requested;
    if (topic !== undefined && !this.deps.medicos.get(topic)) throw notFound('Médico');
    return topic;
  }

  agendaJson(medicoId: string, query: AgendaQuery): Buffer {
    assertOwnMedico('agenda:ler', medicoId);
    // Looking the médico up first also reads other processes' commits, whose events invalidate the cache.
    const medico = this.deps.medicos.get(medicoId);
    if (!medico) throw notFound('Médico');
    const key = query.data ?? `${query.de}..${query.ate}`;
    const hit = this.cache.get(medicoId)?.get(key);
    if (hit) return hit;
    const json = Buffer.from(JSON.stringify(this.compute(medico, query)));
    if (this.cachedBytes + json.length > MAX_CACHED_BYTES) this.clear();
    let forMedico = this.cache.get(medicoId);
    if (!forMedico) this.cache.set(medicoId, (forMedico = new Map()));
    forMedico.set(key, json);
    this.cachedBytes += json.length;
    return json;
  }

  private forget(medicoId: string): void {
    for (const json of this.cache.get(medicoId)?.values() ?? []) this.cachedBytes -= json.length;
    this.cache.delete(medicoId);
  }

  private clear(): void {
    this.cache.clear();
    this.cachedBytes = 0;
  }

  private compute(medico: Medico, query: AgendaQuery): AgendaView {
    const { consultas, schedule, timezone } = this.deps;
    const medicoId = medico.id;
    const dates = query.data ? [query.data] : datesBetween(query.de!, query.ate!);
    const cuts = dates.flatMap((date) => slotsForDate(medico, date, timezone));
    if (cuts.length === 0) return { medicoId, timezone, slots: [] };

    // One index lookup for the whole range; the agendada consultas then meet the slots in order.
    const LONGEST_MS = 240 * 60_000;
    // Their times are parsed once here, not once per slot they are compared with.
    const held = consultas
      .forMedicoBetween(medicoId, cuts[0]!.inicioMs - LONGEST_MS, cuts[cuts.length - 1]!.fimMs)
      .filter((c) => c.status === 'agendada')
      .map((c) => ({ id: c.id, ...times(c) }));
    const slots = cuts.map(({ inicioMs, fimMs }): AgendaSlot => {
      const base = { inicio: formatInstant(inicioMs, timezone), fim: formatInstant(fimMs, timezone) };
      if (schedule.isReserved(medicoId, inicioMs)) return { ...base, estado: 'reservado', consultaId: null };
      const holder = held.find((c) => c.inicio < fimMs && c.fim > inicioMs);
      return holder ? { ...base, estado: 'ocupado', consultaId: holder.id } : { ...base, estado: 'disponivel', consultaId: null };
    });
    return { medicoId, timezone, slots };
  }
}
