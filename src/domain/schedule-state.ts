import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { formatInstant } from '../core/time.js';
import { COLLECTIONS } from '../repositories/collections.js';
import type { Change, ChangeFeed, ConsultaReads, ConsultaRecord, Signals } from '../repositories/port.js';
import { holdsSlot as statusHoldsSlot } from './consulta-status.js';
import type { SlotEstado, StatusConsulta } from '../schemas/consulta.schema.js';
import type { SlotTime } from './slots.js';

export type SlotEventType = 'horario_reservado' | 'horario_ocupado' | 'horario_disponivel';

/** A slot changed state. Carries no patient data. */
export interface SlotEvent {
  type: SlotEventType;
  medicoId: string;
  inicio: string;
  fim: string;
  estado: SlotEstado;
  consultaId?: string;
  /** The state the slot left, when that was `ocupado` (a consulta cancelled or moved away): the waiting list
   *  listens for it. A released reservation (a failed booking) leaves it out. Not sent on the stream. */
  antes?: SlotEstado;
}

/**
 * A consulta changed status (confirmada, aguardando, em_atendimento, realizada, faltou, cancelada), or an
 * encaixe was booked (encaixes hold no slot, so no slot event tells of them). No patient data.
 */
export interface ConsultaStatusEvent {
  type: 'consulta_status';
  medicoId: string;
  inicio: string;
  fim: string;
  consultaId: string;
  status: StatusConsulta;
  encaixe: boolean;
}

/** Everything listeners of the schedule hear: slot transitions, consulta statuses, or "refetch everything". */
export type ScheduleEvent = SlotEvent | ConsultaStatusEvent | { type: 'resync' };

/** A slot held for a booking in flight. Only the holder can release it. */
export interface Reservation {
  readonly key: string;
  readonly medicoId: string;
  readonly inicioMs: number;
  readonly fimMs: number;
  readonly expiresAt: number;
  /** Held by a booking of another process (heard as a signal): only that process's signal or expiry releases it. */
  readonly remote?: true;
  /** The process that announced it (remote reservations): only its `liberado` releases it. */
  readonly from?: string | undefined;
  /** The request holding it (an Idempotency-Key's hash), when it has one: a retry of it knows its twin. */
  readonly owner?: string | undefined;
}

/**
 * The slot is held by a booking in flight (not by a committed consulta): `owner` names that booking's
 * request, when it has one. A retry of the same request on another process meets its twin's reservation.
 */
export class SlotReservedError extends AppError {
  constructor(readonly owner: string | undefined) {
    super('HORARIO_OCUPADO', 'Este horário já está reservado ou ocupado.');
  }
}

/** The signal topic of reservations, and what it carries. */
const RESERVATION_TOPIC = 'reservas';
/** Slots remembered as announced occupied (see `announcedOcupado`): far more than the bookings of any few seconds. */
const ANNOUNCED_OCUPADO_MAX = 50_000;
/**
 * How long a remote reservation may stand before its slot is checked against the database, once (see `onSignal`):
 * a booking normally ends far sooner, and a commit heard on the feed ends its reservation without any query.
 */
export const REMOTE_CHECK_MS = 5_000;
interface ReservationSignal {
  estado: 'reservado' | 'liberado';
  medicoId: string;
  inicioMs: number;
  fimMs: number;
  owner?: string | undefined;
}

const EVENT_OF: Record<SlotEstado, SlotEventType> = {
  disponivel: 'horario_disponivel',
  reservado: 'horario_reservado',
  ocupado: 'horario_ocupado',
};

export interface ScheduleStateDeps {
  /** The storage port's change feed: commits drive `ocupado`, resets make clients refetch. */
  changes: ChangeFeed;
  /** Committed consultas: what a reservation is checked against. */
  consultas: Pick<ConsultaReads, 'medicoConflict'>;
  clock: Clock;
  timezone: string;
  /** A reservation whose booking never finishes returns to `disponivel` after this long. */
  reservationTtlMs?: number;
  /**
   * The storage's signals to the other processes sharing it (PostgreSQL), when there are any: reservations are
   * announced on them, so other processes' clients see `reservado` too and their requests for the slot get a
   * fast 409.
   */
  signals?: Signals | undefined;
}

/**
 * The one owner of slot states and their transitions:
 *
 *     disponivel ──reserve──▶ reservado ──commit of an agendada consulta──▶ ocupado
 *         ▲                      │ release / expiry                           │ cancel, reschedule away
 *         └──────────────────────┴────────────────────────────────────────────┘
 *
 * `reservado` lives here, in memory: a booking in flight. `ocupado` is derived from durable data: a slot is
 * occupied while a consulta of any status but `cancelada` holds it (encaixes never hold a slot). Commits — this
 * process's once durable, or another process's once seen on the storage port's change feed — drive the
 * `→ ocupado` and `ocupado →` transitions, so every transition emits exactly one event, in order, and nothing
 * else changes slot state.
 *
 * Check-and-reserve is atomic within the process: the conflict query is awaited, but the reservation map is
 * checked again after it and the slot taken in the same synchronous run, so two requests of one process cannot
 * both reserve. It is only a fast first answer: across processes, the booking worker's unit of work (and with
 * PostgreSQL the database's exclusion constraint) is what decides.
 *
 * With signals (PostgreSQL), a reservation is announced to the other processes before the booking's unit of
 * work begins, and its release after it fails; they hold it as a remote reservation (shown as `reservado`,
 * refused to their own requests) until the commit occupies the slot, the release arrives, a check against the
 * database finds the slot taken (see `onSignal`), or it expires. Two processes that reserve the same slot at the
 * same moment both go on: the database picks one booking.
 */
export class ScheduleState {
  private readonly reservations = new Map<string, Reservation>();
  /**
   * Releases waiting for their conflict query, by slot. A release decides its event after that await; any event
   * for the slot that goes out meanwhile (a commit, a new reservation) is newer and removes the entry, and the
   * release then stays silent, so clients never end on a stale state.
   */
  private readonly releasing = new Map<string, Reservation>();
  /**
   * The consulta each slot was last announced `ocupado` by (bounded: the oldest entries go first). A slot can be
   * found occupied along more than one path — a remote reservation's conflict query (`checkRemote`), a release's,
   * and the commit's own delivery through the feed, in whichever order they land — and clients must hear it once.
   * Forgetting an entry early costs a repeated event, or delays by up to REMOTE_CHECK_MS the correction of a
   * reservation heard after the commit (see `onSignal`), never a missing event.
   */
  private readonly announcedOcupado = new Map<string, string>();
  /** Remote reservations whose slot has been checked against the database already (see `expire`). */
  private readonly checkedRemote = new WeakSet<Reservation>();
  private readonly listeners = new Set<(event: ScheduleEvent) => void>();
  private readonly ttlMs: number;
  private readonly sweeper: NodeJS.Timeout;
  private readonly unsubscribe: (() => void)[];

  constructor(private readonly deps: ScheduleStateDeps) {
    this.ttlMs = deps.reservationTtlMs ?? 60_000;
    this.unsubscribe = [
      deps.changes.onCommit((changes) => this.onCommitted(changes)),
      ...(deps.signals ? [deps.signals.subscribe(RESERVATION_TOPIC, (payload, from) => this.onSignal(payload, from))] : []),
      // A full reload (another process's checkpoint, a restore, a gap in the feed) may hide transitions: clients refetch.
      deps.changes.onReset((collection) => {
        if (collection === COLLECTIONS.consultas) this.emit({ type: 'resync' });
      }),
    ];
    this.sweeper = setInterval(() => void this.expire(), 1000).unref();
  }

  /**
   * Reserves a free slot for the request `owner` (optional), or rejects with HORARIO_OCUPADO: a
   * {@link SlotReservedError} when a booking in flight holds it. `committed` is what committed data says holds the
   * slot, when the caller has just read it (`BookingRules.slotHolderIfPacienteFree`); it is read here otherwise.
   */
  async reserve(medicoId: string, slot: SlotTime, owner?: string, committed?: { holder: ConsultaRecord | undefined }): Promise<Reservation> {
    const key = slotKey(medicoId, slot.inicioMs);
    this.assertNotReserved(key);
    const holder = committed ? committed.holder : await this.deps.consultas.medicoConflict(medicoId, slot.inicioMs, slot.fimMs);
    if (holder) throw occupied();
    // Another request of this process may have reserved the slot while the query ran: look again, and take
    // the slot in this same synchronous run.
    this.assertNotReserved(key);
    const reservation: Reservation = {
      key,
      medicoId,
      inicioMs: slot.inicioMs,
      fimMs: slot.fimMs,
      expiresAt: this.deps.clock.now().getTime() + this.ttlMs,
      owner,
    };
    this.reservations.set(key, reservation);
    this.emitSlot('reservado', medicoId, slot.inicioMs, slot.fimMs);
    if (this.deps.signals) {
      try {
        // Awaited: other processes must hear of it before the booking's commit can reach them.
        await this.deps.signals.publish(RESERVATION_TOPIC, signalOf('reservado', reservation));
      } catch (error) {
        await this.release(reservation);
        throw error;
      }
    }
    return reservation;
  }

  /**
   * Gives a reservation back (booking failed or finished). A no-op once a commit has occupied the slot. The slot
   * stops being reserved at once; the event (`ocupado` when a consulta holds it after all, else `disponivel`)
   * follows the conflict query, unless a newer event for the slot went out meanwhile.
   */
  async release(reservation: Reservation): Promise<void> {
    if (this.reservations.get(reservation.key) !== reservation) return;
    this.reservations.delete(reservation.key);
    this.releasing.set(reservation.key, reservation);
    if (this.deps.signals && !reservation.remote) {
      // Storage unreachable: the other processes let the reservation expire.
      await this.deps.signals.publish(RESERVATION_TOPIC, signalOf('liberado', reservation)).catch(() => undefined);
    }
    let holder: ConsultaRecord | undefined;
    try {
      holder = await this.deps.consultas.medicoConflict(reservation.medicoId, reservation.inicioMs, reservation.fimMs);
    } catch {
      // Storage unreachable: the slot is free as far as this process knows; a later commit corrects it.
      holder = undefined;
    }
    if (this.releasing.get(reservation.key) !== reservation) return;
    this.releasing.delete(reservation.key);
    if (holder) this.emitSlot('ocupado', reservation.medicoId, reservation.inicioMs, reservation.fimMs, holder.id);
    else this.emitSlot('disponivel', reservation.medicoId, reservation.inicioMs, reservation.fimMs);
  }

  private assertNotReserved(key: string): void {
    const held = this.reservations.get(key);
    if (held) throw new SlotReservedError(held.owner);
  }

  isReserved(medicoId: string, inicioMs: number): boolean {
    return this.reservations.has(slotKey(medicoId, inicioMs));
  }

  get reservedCount(): number {
    return this.reservations.size;
  }

  /**
   * Releases reservations past their time (a task that hung or was lost), and checks once against the database
   * the slot of each remote reservation standing for {@link REMOTE_CHECK_MS} (see `onSignal`).
   */
  async expire(now = this.deps.clock.now().getTime()): Promise<void> {
    const work: Promise<void>[] = [];
    for (const reservation of [...this.reservations.values()]) {
      if (reservation.expiresAt <= now) work.push(this.release(reservation));
      else if (reservation.remote && !this.checkedRemote.has(reservation) && now - (reservation.expiresAt - this.ttlMs) >= REMOTE_CHECK_MS) {
        work.push(this.checkRemote(reservation));
      }
    }
    await Promise.all(work);
  }

  subscribe(listener: (event: ScheduleEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tells every listener to refetch (after a restore). */
  resync(): void {
    this.emit({ type: 'resync' });
  }

  stop(): void {
    clearInterval(this.sweeper);
    for (const off of this.unsubscribe) off();
  }

  /** Another process (`from`) reserved a slot, or released one. */
  private onSignal(payload: unknown, from: string): void {
    const signal = parseSignal(payload);
    if (!signal) return;
    const key = slotKey(signal.medicoId, signal.inicioMs);
    const held = this.reservations.get(key);
    if (signal.estado === 'liberado') {
      // Only the process that announced this reservation gives it back (another one's losing race does not).
      if (held?.remote && held.from === from) void this.release(held);
      return;
    }
    // Already reserved here: this process's booking races the other's, and the database decides. (A reservation
    // being released is no longer in the map: the new one replaces it, and the release's event is left unsaid.)
    if (held) return;
    // What ends a remote reservation is the commit that occupies the slot (heard on the feed: no query), its
    // `liberado` (a release, which asks the database like any), or its expiry. Except when that commit came
    // first: its sender lost the race and, its own reservation taken by the commit, sends no `liberado`. The
    // database is asked at once when that may be the case here: the last thing this process said of the slot is
    // `ocupado`, or a release of the slot is still waiting for its query (its event, `ocupado` perhaps, is about
    // to be dropped in favour of this reservation). Otherwise the commit (the sender's or the winner's) is still to
    // reach the feed; and should the feed never bring it (this process started in between, a gap in the feed),
    // the sweeper asks once after REMOTE_CHECK_MS. A query per remote reservation would cost each process one per
    // booking made on any other.
    const shownOcupado = this.announcedOcupado.has(key) || this.releasing.has(key);
    const reservation: Reservation = {
      key,
      medicoId: signal.medicoId,
      inicioMs: signal.inicioMs,
      fimMs: signal.fimMs,
      expiresAt: this.deps.clock.now().getTime() + this.ttlMs,
      remote: true,
      owner: signal.owner,
      from,
    };
    this.reservations.set(key, reservation);
    this.emitSlot('reservado', signal.medicoId, signal.inicioMs, signal.fimMs);
    if (shownOcupado) void this.checkRemote(reservation);
  }

  /**
   * A reservation heard from another process may come after a commit that already occupies the slot (that
   * process lost the race and, its reservation taken by the commit, sends no `liberado`): once the conflict query
   * finds a holder, the slot is shown `ocupado` again and the reservation dropped.
   */
  private async checkRemote(reservation: Reservation): Promise<void> {
    this.checkedRemote.add(reservation);
    let holder: ConsultaRecord | undefined;
    try {
      holder = await this.deps.consultas.medicoConflict(reservation.medicoId, reservation.inicioMs, reservation.fimMs);
    } catch {
      this.checkedRemote.delete(reservation); // storage away: the sweeper asks again, and expiry releases it
      return;
    }
    if (!holder || this.reservations.get(reservation.key) !== reservation) return;
    this.reservations.delete(reservation.key);
    this.emitSlot('ocupado', reservation.medicoId, reservation.inicioMs, reservation.fimMs, holder.id);
  }

  private onCommitted(changes: readonly Change[]): void {
    for (const change of changes) {
      if (change.collection !== COLLECTIONS.consultas) continue;
      const before = holdsSlot(change.before);
      const after = holdsSlot(change.after);
      if (before && !(after && sameSlot(before, after))) {
        const t = times(before);
        if (!this.reservations.has(slotKey(before.medicoId, t.inicio))) this.emitSlot('disponivel', before.medicoId, t.inicio, t.fim, undefined, 'ocupado');
      }
      if (after && !(before && sameSlot(before, after))) {
        const t = times(after);
        this.reservations.delete(slotKey(after.medicoId, t.inicio));
        this.emitSlot('ocupado', after.medicoId, t.inicio, t.fim, after.id);
      }
      this.emitStatus(change.before as ConsultaRecord | undefined, change.after as ConsultaRecord | undefined);
    }
  }

  /** A status transition of a consulta, or a new encaixe: live screens update the consulta's badge. */
  private emitStatus(before: ConsultaRecord | undefined, after: ConsultaRecord | undefined): void {
    if (!after) return;
    const changed = before ? before.status !== after.status : after.encaixe === true;
    if (!changed) return;
    this.emit({
      type: 'consulta_status',
      medicoId: after.medicoId,
      inicio: after.inicio,
      fim: after.fim,
      consultaId: after.id,
      status: after.status,
      encaixe: after.encaixe === true,
    });
  }

  private emitSlot(estado: SlotEstado, medicoId: string, inicioMs: number, fimMs: number, consultaId?: string, antes?: SlotEstado): void {
    const key = slotKey(medicoId, inicioMs);
    if (this.releasing.size > 0) this.releasing.delete(key);
    if (estado === 'ocupado' && consultaId !== undefined) {
      if (this.announcedOcupado.get(key) === consultaId) return; // said already, along another path
      this.announcedOcupado.delete(key);
      this.announcedOcupado.set(key, consultaId);
      if (this.announcedOcupado.size > ANNOUNCED_OCUPADO_MAX) this.announcedOcupado.delete(this.announcedOcupado.keys().next().value!);
    } else {
      this.announcedOcupado.delete(key);
    }
    const zone = this.deps.timezone;
    this.emit({
      type: EVENT_OF[estado],
      medicoId,
      inicio: formatInstant(inicioMs, zone),
      fim: formatInstant(fimMs, zone),
      estado,
      ...(consultaId ? { consultaId } : {}),
      ...(antes ? { antes } : {}),
    });
  }

  private emit(event: ScheduleEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

const occupied = () => new AppError('HORARIO_OCUPADO', 'Este horário já está reservado ou ocupado.');

/** `inicio` and `fim` as ms since the epoch. */
function times(c: ConsultaRecord): { inicio: number; fim: number } {
  return { inicio: Date.parse(c.inicio), fim: Date.parse(c.fim) };
}

function signalOf(estado: ReservationSignal['estado'], r: Reservation): ReservationSignal {
  return { estado, medicoId: r.medicoId, inicioMs: r.inicioMs, fimMs: r.fimMs, ...(r.owner ? { owner: r.owner } : {}) };
}

/** A signal as sent by {@link signalOf}, or undefined for anything else (it comes from another process). */
function parseSignal(payload: unknown): ReservationSignal | undefined {
  const p = payload as Partial<ReservationSignal> | null;
  if (typeof p !== 'object' || p === null) return undefined;
  if (p.estado !== 'reservado' && p.estado !== 'liberado') return undefined;
  if (typeof p.medicoId !== 'string' || p.medicoId.length === 0 || p.medicoId.length > 64) return undefined;
  if (!Number.isSafeInteger(p.inicioMs) || !Number.isSafeInteger(p.fimMs)) return undefined;
  // A slot of a real agenda: within a century of 1970 and at most a day long (a hostile NOTIFY could send anything).
  if (p.inicioMs! < 0 || p.fimMs! > 4_102_444_800_000 || p.fimMs! <= p.inicioMs! || p.fimMs! - p.inicioMs! > 86_400_000) return undefined;
  const owner = typeof p.owner === 'string' && p.owner.length <= 128 ? p.owner : undefined;
  return { estado: p.estado, medicoId: p.medicoId, inicioMs: p.inicioMs!, fimMs: p.fimMs!, owner };
}

function slotKey(medicoId: string, inicioMs: number): string {
  return `${medicoId}|${inicioMs}`;
}

function holdsSlot(record: unknown): ConsultaRecord | undefined {
  const c = record as ConsultaRecord | undefined;
  return c && statusHoldsSlot(c) ? c : undefined;
}

function sameSlot(a: ConsultaRecord, b: ConsultaRecord): boolean {
  return a.medicoId === b.medicoId && a.inicio === b.inicio && a.fim === b.fim;
}
