import type { Clock } from '../core/clock.js';
import type { Slice, TimeSlicer } from '../core/time-slice.js';
import { notFound } from '../core/errors.js';
import { assertOwnMedico, ownMedicoOnly } from '../core/permissions.js';
import { formatInstant } from '../core/time.js';
import type { ScheduleState } from '../domain/schedule-state.js';
import type { SlotStates } from '../domain/slot-states.js';
import { datesBetween } from '../domain/slots.js';
import { COLLECTIONS } from '../repositories/collections.js';
import type { Change, ChangeFeed, MedicoReads } from '../repositories/port.js';
import { AGENDA_ESTADOS, type AgendaEstado, type AgendaQuery } from '../schemas/agenda.schema.js';
import type { Medico } from '../schemas/medico.schema.js';

export interface AgendaServiceDeps {
  /** Committed médicos (the storage port). */
  medicos: Pick<MedicoReads, 'get'>;
  /** The storage port's change feed: médicos, bloqueios and holidays changed here or in another process. */
  changes: ChangeFeed;
  slotStates: SlotStates;
  schedule: ScheduleState;
  clock: Clock;
  timezone: string;
  slicer: TimeSlicer;
  /**
   * Told when a médico's agenda changed other than by a slot event (its working hours, a bloqueio), or every
   * agenda did (a holiday: `undefined`), here or in another process: the stream's `agenda_alterada`.
   */
  announce?: (medicoId: string | undefined) => void;
}

/** Cached answers are dropped all at once past this many bytes (a day's agenda is about 9 kB). */
const MAX_CACHED_BYTES = 8 * 1024 * 1024;
interface Cached {
  json: Buffer;
  /** The answer is right until this instant: the next slot start, when that slot turns `passado`. */
  validUntil: number;
}

/**
 * The agenda of a médico: slots cut from working hours, each with its current state, and the day's encaixes.
 *
 * Agendas are read far more often than they change, so each answer is kept, as the JSON bytes sent, until
 * something that could change it happens: a slot event of that médico (reserve, commit, release — from this
 * process or another's, seen on the change feed), a change to the médico or its bloqueios, any holiday change,
 * a reset of the feed, or the clock reaching the next slot start of the answer (that slot turns `passado`).
 *
 * Building one reads the range's consultas, bloqueios and holidays once, then is plain arithmetic over the cached
 * slot cuts with one sorted sweep (SlotStates: the one place that decides a slot's state), written straight into bytes; a long range is built a day at a time within the CPU
 * quantum that all long agendas share per turn of the event loop (TimeSlicer), so a burst of 31-day agendas of
 * 5-minute slots does not hold up other requests. A médico's generation number tells
 * whether something changed while an answer was being built, in which case it is sent but not kept.
 */
export class AgendaService {
  private readonly cache = new Map<string, Map<string, Cached>>();
  private readonly generation = new Map<string, number>();
  private epoch = 0;
  private cachedBytes = 0;

  constructor(private readonly deps: AgendaServiceDeps) {
    deps.schedule.subscribe((event) => (event.type === 'resync' ? this.clear() : this.forget(event.medicoId)));
    deps.changes.onCommit((changes) => {
      for (const change of changes) this.onChange(change);
    });
    deps.changes.onReset(() => this.clear());
  }

  /**
   * The médico whose events a stream receives: a médico user always gets their own (the filter is forced),
   * others get what they asked for (undefined: every médico). An unknown médico is 404.
   */
  async streamTopic(requested: string | undefined): Promise<string | undefined> {
    const topic = ownMedicoOnly('agenda:ler') ?? requested;
    if (topic !== undefined && !(await this.deps.medicos.get(topic))) throw notFound('Médico');
    return topic;
  }

  /** The agenda (schema `Agenda`) as UTF-8 JSON. */
  async agendaJson(medicoId: string, query: AgendaQuery): Promise<Buffer> {
    assertOwnMedico('agenda:ler', medicoId);
    // Looking the médico up first also lets the JSON driver read other processes' commits, whose events
    // invalidate the cache before it is looked at.
    const medico = await this.deps.medicos.get(medicoId);
    if (!medico) throw notFound('Médico');
    const key = query.data ?? `${query.de}..${query.ate}`;
    const now = this.deps.clock.now().getTime();
    const hit = this.cache.get(medicoId)?.get(key);
    if (hit && now < hit.validUntil) return hit.json;

    const before = this.versionOf(medicoId);
    const built = await this.build(medico, query.data ? [query.data] : datesBetween(query.de!, query.ate!), now);
    if (this.versionOf(medicoId) !== before) return built.json; // changed meanwhile: right as of its start, not kept
    this.keep(medicoId, key, built);
    return built.json;
  }

  /** Builds the answer as one task of the shared {@link TimeSlicer}. */
  private build(medico: Medico, dates: readonly string[], now: number): Promise<Cached> {
    return this.deps.slicer.run((slice) => this.buildSliced(slice, medico, dates, now));
  }

  private async buildSliced(slice: Slice, medico: Medico, dates: readonly string[], now: number): Promise<Cached> {
    const { timezone } = this.deps;
    // The range's records are read once, here; the days below are computed without I/O.
    const sweep = await this.deps.slotStates.sweep(medico, dates[0]!, dates[dates.length - 1]!, now);
    // A slot is about 114 bytes of JSON (more with a consultaId or a motivo): 120 leaves room for most answers,
    // which then grow no buffer and are not copied to trim it (ByteWriter.bytes keeps up to an eighth spare).
    const out = new ByteWriter(dates.length * sweep.cuts(dates[0]!).length * 120 + 256);
    out.write(`{"medicoId":${JSON.stringify(medico.id)},"timezone":${JSON.stringify(timezone)},"slots":[`);
    let first = true;
    let validUntil = Infinity;
    for (let d = 0; d < dates.length; d++) {
      // A day at a time, within the quantum that every long agenda and search being built shares (TimeSlicer);
      // the first day never waits, so a one-day agenda (the common case) is answered at once.
      if (d > 0 && slice.spent()) await slice.pause();
      const date = dates[d]!;
      const slots = sweep.cuts(date);
      if (slots.length === 0) continue;
      const format = dayFormatter(date, timezone, slots[0]!.inicioMs, slots[slots.length - 1]!.fimMs);
      // One flat string per day (joined, not a chain of concatenations), encoded into the answer at once.
      const day: string[] = [];
      sweep.visit(date, slots, (inicioMs, fimMs, estado, consultaId, motivo) => {
        if (inicioMs > now && inicioMs < validUntil) validUntil = inicioMs;
        const tail =
          consultaId !== undefined ? `"${estado}","consultaId":"${consultaId}"}`
          : motivo !== undefined ? `"${estado}","consultaId":null,"motivo":${JSON.stringify(motivo)}}`
          : FREE_TAIL[estado];
        day.push(`{"inicio":"${format(inicioMs)}","fim":"${format(fimMs)}","estado":${tail}`);
      });
      if (day.length === 0) continue;
      out.write(`${first ? '' : ','}${day.join(',')}`);
      first = false;
    }
    const encaixes = sweep.encaixes.map((e) => `{"inicio":"${formatInstant(e.inicioMs, timezone)}","fim":"${formatInstant(e.fimMs, timezone)}","consultaId":"${e.id}"}`);
    out.write(`],"encaixes":[${encaixes.join(',')}]}`);
    return { json: out.bytes(), validUntil };
  }

  private keep(medicoId: string, key: string, entry: Cached): void {
    if (this.cachedBytes + entry.json.length > MAX_CACHED_BYTES) this.clear();
    let forMedico = this.cache.get(medicoId);
    if (!forMedico) this.cache.set(medicoId, (forMedico = new Map()));
    const previous = forMedico.get(key);
    if (previous) this.cachedBytes -= previous.json.length;
    forMedico.set(key, entry);
    this.cachedBytes += entry.json.length;
  }

  private onChange(change: Change): void {
    const changed = new Set<string>();
    if (change.collection === COLLECTIONS.medicos) changed.add(change.id);
    else if (change.collection === COLLECTIONS.bloqueios) {
      for (const record of [change.before, change.after]) {
        const medicoId = (record as { medicoId?: string } | undefined)?.medicoId;
        if (medicoId) changed.add(medicoId);
      }
    } else if (change.collection === COLLECTIONS.feriados) {
      this.clear();
      this.deps.announce?.(undefined);
    }
    for (const medicoId of changed) {
      this.forget(medicoId);
      this.deps.announce?.(medicoId);
    }
  }

  private versionOf(medicoId: string): string {
    return `${this.epoch}.${this.generation.get(medicoId) ?? 0}`;
  }

  private forget(medicoId: string): void {
    for (const entry of this.cache.get(medicoId)?.values() ?? []) this.cachedBytes -= entry.json.length;
    this.cache.delete(medicoId);
    this.generation.set(medicoId, (this.generation.get(medicoId) ?? 0) + 1);
  }

  private clear(): void {
    this.cache.clear();
    this.cachedBytes = 0;
    this.epoch++;
  }
}

/** The end of a slot's JSON when no consulta holds it and it has no motivo: one constant string per state. */
const FREE_TAIL = Object.fromEntries(AGENDA_ESTADOS.map((estado) => [estado, `"${estado}","consultaId":null}`])) as Record<AgendaEstado, string>;

const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));

/**
 * Formats the instants of one local day with plain arithmetic: one zone lookup at each end of the day's slots;
 * when both have the same offset (every day but a daylight-saving one), a whole-minute instant of that date is
 * its minute of the day and the offset. Anything else goes through {@link formatInstant}.
 */
function dayFormatter(date: string, zone: string, firstMs: number, lastMs: number): (ms: number) => string {
  const first = formatInstant(firstMs, zone);
  const suffix = first.slice(19);
  if (!first.startsWith(date) || first.length !== 25 || formatInstant(lastMs, zone).slice(19) !== suffix) return (ms) => formatInstant(ms, zone);
  const offsetMs = Date.parse(`${first.slice(0, 19)}Z`) - firstMs;
  const midnightMs = Date.parse(`${date}T00:00:00Z`);
  const prefix = `${date}T`;
  return (ms) => {
    const minute = (ms + offsetMs - midnightMs) / 60_000;
    if (!Number.isInteger(minute) || minute < 0 || minute >= 1440) return formatInstant(ms, zone);
    return `${prefix}${TWO_DIGITS[Math.floor(minute / 60)]}:${TWO_DIGITS[minute % 60]}:00${suffix}`;
  };
}

/**
 * UTF-8 bytes written as they are made. A 1 MB answer built as one growing string survives the yields between
 * days as a long chain of string pieces, which the garbage collector then moves into the old generation: with
 * ten such answers in flight, its pauses (up to a second) were what held up other requests. Here each piece is
 * a short-lived string, and the answer is one buffer.
 */
class ByteWriter {
  private buffer: Buffer;
  private length = 0;

  constructor(estimate: number) {
    this.buffer = Buffer.allocUnsafe(estimate);
  }

  write(text: string): void {
    const most = text.length * 3; // UTF-8 bytes of a UTF-16 code unit, at most
    if (this.length + most > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + most));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    this.length += this.buffer.write(text, this.length, 'utf8');
  }

  /**
   * The bytes written. A cached answer should not hold much spare room, but copying a megabyte to trim a few
   * kilobytes doubles what each answer allocates outside the heap (which is what drives full collections here):
   * the buffer is trimmed by a copy only when more than an eighth of it is spare.
   */
  bytes(): Buffer {
    const view = this.buffer.subarray(0, this.length);
    return this.buffer.length - this.length > this.buffer.length / 8 ? Buffer.from(view) : view;
  }
}
