import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Clock } from '../core/clock.js';
import { notFound } from '../core/errors.js';
import { assertOwnMedico, ownMedicoOnly } from '../core/permissions.js';
import { formatInstant } from '../core/time.js';
import type { ScheduleState } from '../infra/schedule-state.js';
import type { Change, Store } from '../infra/storage/store.js';
import type { BloqueioRepository } from '../repositories/bloqueio.repository.js';
import { COLLECTIONS } from '../repositories/collections.js';
import type { ConsultaRepository } from '../repositories/consulta.repository.js';
import type { MedicoRepository } from '../repositories/medico.repository.js';
import type { AgendaQuery } from '../schemas/agenda.schema.js';
import type { Medico } from '../schemas/medico.schema.js';
import { MEDICO_INATIVO } from './bloqueio.service.js';
import type { FeriadoService } from './feriado.service.js';
import { datesBetween, slotsForDate } from './slots.js';

export interface AgendaServiceDeps {
  store: Store;
  medicos: MedicoRepository;
  consultas: ConsultaRepository;
  bloqueios: BloqueioRepository;
  feriados: FeriadoService;
  schedule: ScheduleState;
  clock: Clock;
  timezone: string;
}

/** Cached answers are dropped all at once past this many bytes (a day's agenda is about 9 kB). */
const MAX_CACHED_BYTES = 8 * 1024 * 1024;
/** The longest consulta: how far before a range a consulta overlapping it can start. */
const LONGEST_MS = 240 * 60_000;
/**
 * Agenda work allowed per turn of the event loop, shared by every agenda being built at once: ten 31-day
 * builds yielding on their own budgets would still run back to back in one turn and hold up `/health`.
 */
const TURN_BUDGET_MS = 4;
const turn = { start: 0 };

interface Cached {
  json: Buffer;
  /** The answer is right until this instant: the next slot start, when that slot turns `passado`. */
  validUntil: number;
}

/** A consulta that holds time in the agenda, its times parsed once. */
interface Held {
  id: string;
  inicio: number;
  fim: number;
}

/**
 * The agenda of a médico: slots cut from working hours, each with its current state, and the day's encaixes.
 *
 * Agendas are read far more often than they change, so each answer is kept, as the JSON bytes sent, until
 * something that could change it happens: a slot event of that médico (reserve, commit, release — from this
 * process or read from another's journal), a change to the médico or its bloqueios, any holiday change, a full
 * reload, or the clock reaching the next slot start of the answer (that slot turns `passado`).
 *
 * Building one is plain arithmetic over the cached slot cuts with sorted sweeps (consultas, bloqueios), written
 * straight into a JSON string; a long range yields to the event loop every few milliseconds, so a burst of
 * 31-day agendas of 5-minute slots does not hold up other requests. A médico's generation number tells
 * whether something changed while an answer was being built, in which case it is sent but not kept.
 */
export class AgendaService {
  private readonly cache = new Map<string, Map<string, Cached>>();
  private readonly generation = new Map<string, number>();
  private epoch = 0;
  private cachedBytes = 0;

  constructor(private readonly deps: AgendaServiceDeps) {
    deps.schedule.subscribe((event) => (event.type === 'resync' ? this.clear() : this.forget(event.medicoId)));
    deps.store.subscribe({
      change: (change) => this.onChange(change),
      reset: () => this.clear(),
    });
  }

  /**
   * The médico whose events a stream receives: a médico user always gets their own (the filter is forced),
   * others get what they asked for (undefined: every médico). An unknown médico is 404.
   */
  streamTopic(requested: string | undefined): string | undefined {
    const topic = ownMedicoOnly('agenda:ler') ?? requested;
    if (topic !== undefined && !this.deps.medicos.get(topic)) throw notFound('Médico');
    return topic;
  }

  /** The agenda (schema `Agenda`) as UTF-8 JSON. */
  async agendaJson(medicoId: string, query: AgendaQuery): Promise<Buffer> {
    assertOwnMedico('agenda:ler', medicoId);
    // Looking the médico up first also reads other processes' commits, whose events invalidate the cache.
    const medico = this.deps.medicos.get(medicoId);
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

  private async build(medico: Medico, dates: readonly string[], now: number): Promise<Cached> {
    const { consultas, bloqueios, feriados, schedule, timezone } = this.deps;
    const medicoId = medico.id;
    const cuts = dates.map((date) => slotsForDate(medico, date, timezone));
    const fromMs = Date.parse(`${dates[0]}T00:00:00Z`) - 86_400_000; // a day either side covers every offset
    const toMs = Date.parse(`${dates[dates.length - 1]}T00:00:00Z`) + 2 * 86_400_000;
    const firstDay = dates[0]!;
    const lastDay = dates[dates.length - 1]!;

    // One index lookup for the whole range; consultas and slots then meet in order.
    const held: Held[] = [];
    const encaixes: string[] = [];
    for (const c of consultas.forMedicoBetween(medicoId, fromMs - LONGEST_MS, toMs)) {
      if (c.status === 'cancelada') continue;
      const inicio = Date.parse(c.inicio);
      const fim = Date.parse(c.fim);
      if ((c as { encaixe?: unknown }).encaixe === true) {
        const day = formatInstant(inicio, timezone).slice(0, 10);
        if (day >= firstDay && day <= lastDay) encaixes.push(`{"inicio":"${formatInstant(inicio, timezone)}","fim":"${formatInstant(fim, timezone)}","consultaId":"${c.id}"}`);
      } else held.push({ id: c.id, inicio, fim });
    }
    const blocks = bloqueios.ofMedico(medicoId).filter((b) => b.inicioMs < toMs && b.fimMs > fromMs);
    const inactive = !medico.ativo;

    const out = new ByteWriter(cuts.reduce((n, day) => n + day.length, 0) * 112 + 256);
    out.write(`{"medicoId":${JSON.stringify(medicoId)},"timezone":${JSON.stringify(timezone)},"slots":[`);
    let first = true;
    let validUntil = Infinity;
    let h = 0;
    for (let d = 0; d < dates.length; d++) {
      // Let other requests in between days of a long range, sharing one budget with every agenda being built.
      if (d > 0 && performance.now() - turn.start >= TURN_BUDGET_MS) {
        await nextTurn();
        if (performance.now() - turn.start >= TURN_BUDGET_MS) turn.start = performance.now(); // the first back opens a new turn
      }
      const slots = cuts[d]!;
      if (slots.length === 0) continue;
      let day = '';
      const holiday = feriados.closingOn(dates[d]!)?.nome;
      const format = dayFormatter(dates[d]!, timezone, slots[0]!.inicioMs, slots[slots.length - 1]!.fimMs);
      const anyReserved = schedule.reservedCount > 0;
      for (const { inicioMs, fimMs } of slots) {
        // Consultas by start: skip those that ended before this slot could start (none lasts longer than LONGEST_MS).
        while (h < held.length && held[h]!.inicio + LONGEST_MS <= inicioMs) h++;
        let holder: Held | undefined;
        for (let k = h; k < held.length && held[k]!.inicio < fimMs; k++) {
          if (held[k]!.fim > inicioMs) {
            holder = held[k];
            break;
          }
        }
        let tail: string;
        if (anyReserved && schedule.isReserved(medicoId, inicioMs)) tail = '"reservado","consultaId":null}';
        else if (holder) tail = `"ocupado","consultaId":"${holder.id}"}`;
        else {
          const motivo = inactive ? MEDICO_INATIVO : (blocks.find((b) => b.inicioMs < fimMs && b.fimMs > inicioMs)?.bloqueio.motivo ?? holiday);
          if (motivo !== undefined) tail = `"bloqueado","consultaId":null,"motivo":${JSON.stringify(motivo)}}`;
          else if (inicioMs <= now) tail = '"passado","consultaId":null}';
          else tail = '"disponivel","consultaId":null}';
        }
        if (inicioMs > now && inicioMs < validUntil) validUntil = inicioMs;
        day += `${first ? '' : ','}{"inicio":"${format(inicioMs)}","fim":"${format(fimMs)}","estado":${tail}`;
        first = false;
      }
      out.write(day);
    }
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
    if (change.collection === COLLECTIONS.medicos) this.forget(change.id);
    else if (change.collection === COLLECTIONS.bloqueios) {
      for (const record of [change.before, change.after]) {
        const medicoId = (record as { medicoId?: string } | undefined)?.medicoId;
        if (medicoId) this.forget(medicoId);
      }
    } else if (change.collection === COLLECTIONS.feriados) this.clear();
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

  /** The bytes written, in a buffer of their own size (a cached answer should not hold spare room). */
  bytes(): Buffer {
    return this.length === this.buffer.length ? this.buffer : Buffer.from(this.buffer.subarray(0, this.length));
  }
}
