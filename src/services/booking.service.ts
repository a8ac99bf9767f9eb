import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { AppError, notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { formatInstant } from '../core/time.js';
import { SlotReservedError, type Reservation, type ScheduleState } from '../domain/schedule-state.js';
import type { TaskQueue, TaskRecord } from '../infra/task-queue.js';
import type { ConsultaRecord, IdempotencyRecord, StoragePort, UnitOfWork } from '../repositories/port.js';
import { keyOf, problemResponse, toResponse, type BookingResponse, type IdempotencyKey } from './booking-keys.js';
import { ENCAIXE_DURACAO_PADRAO_MIN, type AgendarInput } from '../schemas/consulta.schema.js';
import { assertRemarcavel } from '../domain/consulta-status.js';
import type { BookingRequest, BookingRules, EncaixeRequest } from '../domain/booking-rules.js';
import type { SlotTime } from '../domain/slots.js';
import { currentContext, type RequestContext } from '../core/context.js';
import { assertOwnMedico } from '../core/permissions.js';
import type { Auditor } from './audit.service.js';
import { purgeInChunks } from './purge.js';

export type { BookingResponse } from './booking-keys.js';

/** What a booking request gets back: the response, or (with `Prefer: respond-async`) the task. */
export type BookingOutcome = { kind: 'response'; response: BookingResponse } | { kind: 'accepted'; task: TaskRecord };

export interface BookingOptions {
  idempotencyKey?: string | undefined;
  respondAsync: boolean;
}

interface AgendarTask {
  input: AgendarInput;
  inicioMs: number;
  slot: SlotTime;
  /** The slot held while the task waits; none for an encaixe, which holds no slot. */
  reservation: Reservation | undefined;
  /** Set for an encaixe: its length in minutes. */
  encaixe?: { duracaoMin: number } | undefined;
  key: IdempotencyKey | undefined;
  /** Who asked: the worker runs later, outside the request, and audits in their name. */
  context: RequestContext | undefined;
}

interface RemarcarTask {
  consultaId: string;
  slot: SlotTime;
  reservation: Reservation;
  context: RequestContext | undefined;
}

export interface BookingServiceDeps {
  storage: StoragePort;
  rules: BookingRules;
  schedule: ScheduleState;
  queue: TaskQueue;
  clock: Clock;
  timezone: string;
  logger: Logger;
  auditor: Auditor;
}

/** Keys are remembered at least this long (the contract asks for 24 h). */
export const IDEMPOTENCY_TTL_MS = 48 * 60 * 60 * 1000;

/**
 * The booking flow of the contract:
 *   1. the slot goes `disponivel → reservado` at once (or 409),
 *   2. an `agendar_consulta` task enters the queue,
 *   3. the worker re-checks every rule inside one unit of work and persists (JSON: group-committed with others
 *      under the file lock; PostgreSQL: a serializable transaction, its constraints deciding races),
 *   4. the commit makes the slot `ocupado`; a failure releases it back to `disponivel`.
 * Rescheduling follows the same steps with `remarcar_consulta`; the old time is kept unless the new one commits.
 * A unit of work may run more than once (the driver retries serialization conflicts): inside it there are only
 * reads and writes through `tx` and staged audit entries; logs and slot releases come after it resolves.
 */
export class BookingService {
  /**
   * Keyed requests in flight in this process, so a concurrent retry joins the first instead of racing it. An
   * entry is made before the first request's early checks are awaited, and `started` settles once the task is
   * queued (or, on an early refusal, once that refusal is remembered).
   */
  private readonly inflight = new Map<string, Inflight>();
  /** Waits for a twin's answer on another process, by key hash: one per key, whoever waits (see `instead`). */
  private readonly twinWaits = new Map<string, Promise<IdempotencyRecord | undefined>>();

  constructor(private readonly deps: BookingServiceDeps) {
    deps.queue.register<AgendarTask, BookingResponse>('agendar_consulta', (payload) => this.runAgendar(payload), {
      concurrency: 256,
      describe: describeResponse,
      medicoOf: (task) => task.input.medicoId,
    });
    deps.queue.register<RemarcarTask, ConsultaRecord>('remarcar_consulta', (payload) => this.runRemarcar(payload), {
      concurrency: 64,
      describe: (c) => ({ consultaId: c.id, inicio: c.inicio }),
      medicoOf: (task) => task.reservation.medicoId,
    });
  }

  /**
   * Books a consulta (or, with `encaixe: true`, squeezes one in). With an Idempotency-Key, every answer under
   * 500 is remembered, whichever stage gave it — the early checks here as much as the worker — so a retry
   * replays the first answer instead of booking a slot that became free in between.
   */
  async agendar(input: AgendarInput, options: BookingOptions): Promise<BookingOutcome> {
    assertOwnMedico('consultas:escrever', input.medicoId);
    const inicioMs = Date.parse(input.inicio);
    const context = currentContext();
    const key = options.idempotencyKey ? keyOf(options.idempotencyKey, input, inicioMs, context?.actor?.usuarioId) : undefined;
    const enqueue = () => (input.encaixe ? this.enqueueEncaixe(input, inicioMs, key, context) : this.enqueueRegular(input, inicioMs, key, context));
    let enqueued: Enqueued;
    if (key) {
      const stored = await this.deps.storage.idempotency.get(key.hash);
      // From here until the key is in `inflight`, nothing is awaited: a concurrent retry in this process either
      // joins an entry already there or finds this one.
      const replay = this.replay(key, stored, options.respondAsync);
      if (replay) return replay;
      const started = enqueue().catch(async (error: unknown) => {
        // The same request in flight on another process holds the slot: its answer, not this refusal, is the key's.
        if (error instanceof AppError && error.status < 500 && !isTwin(error, key)) await this.rememberFailure(key, error);
        throw error;
      });
      const entry: Inflight = { fingerprint: key.fingerprint, started };
      this.inflight.set(key.hash, entry);
      const forget = () => {
        if (this.inflight.get(key.hash) === entry) this.inflight.delete(key.hash);
      };
      started.then((e) => e.done).then(forget, forget);
      try {
        enqueued = await started;
      } catch (error) {
        const answer = await this.instead(key, error);
        if (!answer) throw error;
        return this.replay(key, answer, options.respondAsync)!;
      }
    } else {
      enqueued = await enqueue();
    }
    if (options.respondAsync) return accepted(enqueued);
    return { kind: 'response', response: await enqueued.done };
  }

  /** Early checks of a regular booking against committed data, then the slot reserved and the task queued. */
  private async enqueueRegular(input: AgendarInput, inicioMs: number, key: IdempotencyKey | undefined, context: RequestContext | undefined) {
    const { rules } = this.deps;
    const request = { medicoId: input.medicoId, pacienteId: input.pacienteId, inicioMs };
    const { slot, holder } = await rules.earlyRegular(request);
    return this.reserveAndEnqueue<BookingResponse>('agendar_consulta', input.medicoId, slot, (reservation) => ({
      input, inicioMs, slot, reservation, key, context,
    }) satisfies AgendarTask, key?.hash, { holder });
  }

  /**
   * Early checks of an encaixe, then its task queued. No slot is reserved (encaixes never change slot states);
   * the daily limit is decided by the worker inside its unit of work, under a lock on the médico and day, so it
   * holds across processes.
   */
  private async enqueueEncaixe(input: AgendarInput, inicioMs: number, key: IdempotencyKey | undefined, context: RequestContext | undefined) {
    const { rules, queue } = this.deps;
    const duracaoMin = input.duracaoMin ?? ENCAIXE_DURACAO_PADRAO_MIN;
    const request = { medicoId: input.medicoId, pacienteId: input.pacienteId, inicioMs, duracaoMin };
    const { slot } = await rules.earlyEncaixe(request);
    const task: AgendarTask = { input, inicioMs, slot, reservation: undefined, encaixe: { duracaoMin }, key, context };
    return queue.add<BookingResponse>('agendar_consulta', task);
  }

  async remarcar(consultaId: string, inicio: string, respondAsync: boolean): Promise<{ kind: 'done'; consulta: ConsultaRecord } | { kind: 'accepted'; task: TaskRecord }> {
    const { storage, rules } = this.deps;
    const consulta = await storage.consultas.get(consultaId);
    if (!consulta) throw notFound('Consulta', 'a');
    assertOwnMedico('consultas:escrever', consulta.medicoId);
    assertRemarcavel(consulta.status, Date.parse(consulta.inicio), this.deps.clock.now().getTime());
    assertNotEncaixe(consulta);
    const inicioMs = Date.parse(inicio);
    if (inicioMs === Date.parse(consulta.inicio)) {
      throw new AppError('REGRA_AGENDAMENTO', 'A consulta já está neste horário.', [{ path: 'inicio', message: 'Mesmo horário atual.' }]);
    }
    const request = { medicoId: consulta.medicoId, pacienteId: consulta.pacienteId, inicioMs, exceptConsultaId: consultaId };
    // On committed data (no kept subjects): the reservation then asks for the slot's holder itself, without
    // `exceptConsultaId`, over the span cut here, and that refusal must not rest on a médico's old hours.
    const { slot } = await rules.slotFor(request);
    await rules.assertPacienteFree(request, slot);
    const enqueued = await this.reserveAndEnqueue<ConsultaRecord>('remarcar_consulta', consulta.medicoId, slot, (reservation) => ({
      consultaId, slot, reservation, context: currentContext(),
    }) satisfies RemarcarTask);
    if (respondAsync) return accepted(enqueued);
    return { kind: 'done', consulta: await enqueued.done };
  }

  /** Steps 1 and 2: reserve the slot (or 409), then queue the task that will confirm or release it. */
  private async reserveAndEnqueue<R>(
    tipo: 'agendar_consulta' | 'remarcar_consulta',
    medicoId: string,
    slot: SlotTime,
    payload: (reservation: Reservation) => unknown,
    owner?: string,
    committed?: { holder: ConsultaRecord | undefined },
  ) {
    const { schedule, queue } = this.deps;
    const reservation = await schedule.reserve(medicoId, slot, owner, committed);
    let enqueued;
    try {
      enqueued = queue.add<R>(tipo, payload(reservation));
    } catch (error) {
      await schedule.release(reservation);
      throw error;
    }
    // A task dropped at shutdown never runs its worker: give its slot back here (release is idempotent).
    enqueued.done.catch(() => schedule.release(reservation));
    return enqueued;
  }

  /** Deletes remembered keys past their time. */
  async purgeExpiredKeys(): Promise<number> {
    const { storage, clock } = this.deps;
    return purgeInChunks(
      storage,
      (reads, limit) => reads.idempotency.olderThan(clock.now().getTime() - IDEMPOTENCY_TTL_MS, limit),
      (tx, id) => tx.idempotency.remove(id),
    );
  }

  // ---- workers -----------------------------------------------------------------------------------

  private async runAgendar(task: AgendarTask): Promise<BookingResponse> {
    const { storage, schedule, clock, timezone, logger, auditor } = this.deps;
    const { input, inicioMs, key } = task;
    try {
      const response = await storage.run(async (tx): Promise<BookingResponse> => {
        // Another process may have answered this key while we waited for the lock.
        const stored = key && (await tx.idempotency.get(key.hash));
        if (stored) return toResponse(stored);
        const request = { medicoId: input.medicoId, pacienteId: input.pacienteId, inicioMs };
        const slot = task.encaixe ? await this.checkEncaixe(tx, { ...request, ...task.encaixe }) : await this.checkRegular(tx, request, task.slot);
        const now = formatInstant(clock.now(), timezone);
        const consulta: ConsultaRecord = {
          id: randomUUID(),
          medicoId: input.medicoId,
          pacienteId: input.pacienteId,
          inicio: formatInstant(slot.inicioMs, timezone),
          fim: formatInstant(slot.fimMs, timezone),
          status: 'agendada',
          observacoes: input.observacoes ?? null,
          motivoCancelamento: null,
          chegouEm: null,
          encaixe: task.encaixe !== undefined,
          criadaEm: now,
          atualizadaEm: now,
        };
        await tx.consultas.save(consulta);
        await auditor.stage(tx, { acao: 'consulta.agendar', recurso: 'consulta', recursoId: consulta.id, pacienteIds: [consulta.pacienteId], status: 201 }, task.context);
        const created: BookingResponse = { status: 201, body: consulta, location: `/consultas/${consulta.id}` };
        if (key) await tx.idempotency.save({ id: key.hash, fingerprint: key.fingerprint, ...created, criadoEm: clock.now().getTime() });
        return created;
        // Regular bookings may share a unit of work: two that collide on one slot or one paciente's time are refused
        // by a constraint, and two with one key never meet in one group (`inflight` runs one per key). Encaixes may
        // not share: their daily limit is a count no constraint keeps.
      }, { shared: !task.encaixe });
      if (response.status === 201) logger.info({ consultaId: (response.body as ConsultaRecord).id, medicoId: input.medicoId }, 'consulta agendada');
      return response;
    } catch (error) {
      if (key && error instanceof AppError && error.status < 500) {
        await this.rememberFailure(key, error);
        // The same request, run by another process, booked it: that is this request's answer too.
        const twin = await this.twinSuccess(key, error);
        if (twin) return toResponse(twin);
      }
      throw error;
    } finally {
      if (task.reservation) await schedule.release(task.reservation);
    }
  }

  /**
   * The worker's decisive run of a regular booking's rules, inside the unit of work. The conflicts are asked for
   * the slot the early checks found at the same time as the slot is checked again (one round trip fewer on
   * PostgreSQL); only if the médico's hours changed in between and the slot with them are they asked again.
   * The slot's own refusals (422) come before conflicts (409), as when asked one after the other.
   */
  private async checkRegular(tx: UnitOfWork, request: BookingRequest, expected: SlotTime): Promise<SlotTime> {
    const { rules, storage } = this.deps;
    // Where the storage refuses overlaps itself, the write decides (see `StoragePort.refusesOverlaps`).
    const assertFree = (slot: SlotTime) => (storage.refusesOverlaps ? Promise.resolve() : rules.assertFree(request, slot, tx));
    const [found, free] = await Promise.allSettled([rules.slotFor(request, tx), assertFree(expected)]);
    if (found.status === 'rejected') throw found.reason;
    const { slot } = found.value;
    if (slot.inicioMs !== expected.inicioMs || slot.fimMs !== expected.fimMs) await assertFree(slot);
    else if (free.status === 'rejected') throw free.reason;
    return slot;
  }

  /**
   * The worker's decisive run of an encaixe's rules, inside the unit of work. The count is taken under a lock
   * on the médico and day (PostgreSQL: an advisory lock; JSON: every unit of work already runs alone), so
   * two processes cannot both see room for the last encaixe: no constraint can express the daily limit.
   */
  private async checkEncaixe(tx: UnitOfWork, request: EncaixeRequest): Promise<SlotTime> {
    const { rules } = this.deps;
    const { medico, slot } = await rules.encaixeFor(request, tx);
    await tx.lock(`encaixe:${medico.id}:${rules.encaixeDay(slot)}`);
    await rules.assertEncaixeLimit(medico, slot, tx);
    await rules.assertPacienteFree(request, slot, tx);
    return slot;
  }

  private async runRemarcar(task: RemarcarTask): Promise<ConsultaRecord> {
    const { storage, rules, schedule, clock, timezone, logger, auditor } = this.deps;
    try {
      const updated = await storage.run(async (tx) => {
        const current = await tx.consultas.get(task.consultaId);
        if (!current) throw notFound('Consulta', 'a');
        assertRemarcavel(current.status, Date.parse(current.inicio), clock.now().getTime());
        const request = { medicoId: current.medicoId, pacienteId: current.pacienteId, inicioMs: task.slot.inicioMs, exceptConsultaId: current.id };
        const { slot } = await rules.slotFor(request, tx);
        await rules.assertFree(request, slot, tx);
        const moved: ConsultaRecord = {
          ...current,
          inicio: formatInstant(slot.inicioMs, timezone),
          fim: formatInstant(slot.fimMs, timezone),
          atualizadaEm: formatInstant(clock.now(), timezone),
        };
        await tx.consultas.save(moved);
        await auditor.stage(tx, { acao: 'consulta.remarcar', recurso: 'consulta', recursoId: moved.id, pacienteIds: [moved.pacienteId], status: 200 }, task.context);
        return moved;
      });
      logger.info({ consultaId: updated.id }, 'consulta remarcada');
      return updated;
    } finally {
      await schedule.release(task.reservation);
    }
  }

  /** A keyed request that failed on a rule answers the same failure when retried. */
  private async rememberFailure(key: IdempotencyKey, error: AppError): Promise<void> {
    const { storage, clock, logger } = this.deps;
    const response = problemResponse(error);
    try {
      await storage.run(async (tx) => {
        if (!(await tx.idempotency.get(key.hash))) await tx.idempotency.save({ id: key.hash, fingerprint: key.fingerprint, ...response, criadoEm: clock.now().getTime() });
      });
    } catch (failure) {
      logger.warn({ err: failure }, 'não foi possível guardar a resposta idempotente');
    }
  }

  /**
   * The remembered or in-flight answer for a key, or 422 when the key came with another body; undefined when
   * the key is new. Synchronous up to the answer it returns (see `agendar`).
   */
  private replay(key: IdempotencyKey, stored: IdempotencyRecord | undefined, respondAsync: boolean): Promise<BookingOutcome> | undefined {
    const inflight = this.inflight.get(key.hash);
    const fingerprint = stored?.fingerprint ?? inflight?.fingerprint;
    if (fingerprint === undefined) return undefined;
    if (fingerprint !== key.fingerprint) {
      throw new AppError('IDEMPOTENCIA_CONFLITO', 'Esta Idempotency-Key já foi usada com outro corpo de requisição.');
    }
    if (stored) return Promise.resolve({ kind: 'response', response: toResponse(stored) });
    return this.follow(key, inflight!, respondAsync);
  }

  /**
   * The answer of the same keyed request in flight on another process (its reservation refused this one): it is
   * remembered under the key when its task ends, at the latest when its reservation expires. Undefined if it
   * never comes (that process died): the refusal then stands, unremembered, and a later retry books.
   */
  private async twinAnswer(key: IdempotencyKey): Promise<IdempotencyRecord | undefined> {
    // Elapsed time, not the clinic's clock (a test's manual clock never moves on its own).
    const deadline = performance.now() + TWIN_WAIT_MS;
    for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
      const stored = await this.deps.storage.idempotency.get(key.hash);
      if (stored) return stored;
      if (performance.now() >= deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /**
   * The answer a keyed request refused before its task was queued gives instead of the refusal, if any: a twin on
   * another process may hold the slot (its answer, once it has one) or have booked it already (its success).
   */
  private instead(key: IdempotencyKey, error: unknown): Promise<IdempotencyRecord | undefined> {
    if (!isTwin(error, key)) return this.twinSuccess(key, error);
    // Every retry of this process that met the twin waits on one poll of the key.
    let wait = this.twinWaits.get(key.hash);
    if (!wait) {
      wait = this.twinAnswer(key).finally(() => this.twinWaits.delete(key.hash));
      this.twinWaits.set(key.hash, wait);
    }
    return wait;
  }

  /** After a refusal with a key: the success remembered under it, when the same request booked on another process. */
  private async twinSuccess(key: IdempotencyKey, error: unknown): Promise<IdempotencyRecord | undefined> {
    if (!(error instanceof AppError) || error.status >= 500) return undefined;
    const stored = await this.deps.storage.idempotency.get(key.hash).catch(() => undefined);
    return stored && stored.fingerprint === key.fingerprint && stored.status < 300 ? stored : undefined;
  }

  /** Joins a keyed request in flight: its task, or its answer. */
  private async follow(key: IdempotencyKey, inflight: Inflight, respondAsync: boolean): Promise<BookingOutcome> {
    let enqueued: Enqueued;
    try {
      enqueued = await inflight.started;
    } catch (error) {
      // Refused before it was queued: that refusal was remembered, and is this retry's answer too; or refused by the
      // same request on another process, whose answer is then this retry's, as it is the first request's.
      const stored = (await this.deps.storage.idempotency.get(key.hash)) ?? (await this.instead(key, error));
      if (stored) return { kind: 'response', response: toResponse(stored) };
      throw error;
    }
    if (respondAsync) return accepted(enqueued);
    return { kind: 'response', response: await enqueued.done };
  }
}

interface Enqueued<R = BookingResponse> {
  task: TaskRecord;
  done: Promise<R>;
  /** See the queue's `Enqueued.visible`. */
  visible(): Promise<void>;
}

/**
 * 202's outcome, once every process can find the task (a client may poll any of them). The record as it was when
 * accepted: the task may have moved on meanwhile, and that is for the poll to tell.
 */
async function accepted(enqueued: Enqueued<unknown>): Promise<{ kind: 'accepted'; task: TaskRecord }> {
  const task = { ...enqueued.task };
  await enqueued.visible();
  return { kind: 'accepted', task };
}

/**
 * How long a retry waits for its twin on another process. Nothing stops the twin's task from waiting longer in its
 * queue: the retry then answers the refusal it met (not remembered), while the twin may still book.
 */
const TWIN_WAIT_MS = 60_000;

/** Refused by the reservation of the same keyed request (on another process: this one's twins join `inflight`). */
const isTwin = (error: unknown, key: IdempotencyKey): boolean => error instanceof SlotReservedError && error.owner === key.hash;

interface Inflight {
  fingerprint: string;
  started: Promise<Enqueued>;
}

/** An encaixe is not moved to a slot: it is cancelled and squeezed in again (remarcar books regular slots). */
function assertNotEncaixe(consulta: ConsultaRecord): void {
  if (consulta.encaixe) {
    throw new AppError('REGRA_AGENDAMENTO', 'Encaixes não são remarcados: cancele e agende outro encaixe.', [
      { path: 'encaixe', message: 'Consulta de encaixe.' },
    ]);
  }
}

function describeResponse(response: BookingResponse): unknown {
  const body = response.body as { id?: string };
  return response.status === 201 ? { consultaId: body.id, location: response.location } : { status: response.status };
}
