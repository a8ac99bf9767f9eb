import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { AppError, notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { formatInstant } from '../core/time.js';
import type { Reservation, ScheduleState } from '../infra/schedule-state.js';
import type { Store } from '../infra/storage/json/store.js';
import type { TaskQueue, TaskRecord } from '../infra/task-queue.js';
import { times, type ConsultaRecord, type ConsultaRepository } from '../infra/storage/json/repositories/consulta.repository.js';
import type { IdempotencyRepository } from '../infra/storage/json/repositories/idempotency.repository.js';
import { keyOf, problemResponse, toResponse, type BookingResponse, type IdempotencyKey } from './booking-keys.js';
import { ENCAIXE_DURACAO_PADRAO_MIN, type AgendarInput } from '../schemas/consulta.schema.js';
import { assertRemarcavel } from '../domain/consulta-status.js';
import type { BookingRequest, BookingRules, EncaixeRequest } from './booking-rules.js';
import { currentContext, type RequestContext } from '../core/context.js';
import { assertOwnMedico } from '../core/permissions.js';
import type { Auditor } from './audit.service.js';
import type { SlotTime } from './slots.js';

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
  store: Store;
  consultas: ConsultaRepository;
  idempotency: IdempotencyRepository;
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
 *   3. the worker re-checks every rule under the storage lock and persists (group-committed with others),
 *   4. the commit makes the slot `ocupado`; a failure releases it back to `disponivel`.
 * Rescheduling follows the same steps with `remarcar_consulta`; the old time is kept unless the new one commits.
 */
export class BookingService {
  /** Keyed requests in flight in this process, so a concurrent retry joins the first instead of racing it. */
  private readonly inflight = new Map<string, { fingerprint: string; task: TaskRecord; done: Promise<BookingResponse> }>();

  constructor(private readonly deps: BookingServiceDeps) {
    deps.queue.register<AgendarTask, BookingResponse>('agendar_consulta', (payload) => this.runAgendar(payload), {
      concurrency: 256,
      describe: describeResponse,
    });
    deps.queue.register<RemarcarTask, ConsultaRecord>('remarcar_consulta', (payload) => this.runRemarcar(payload), {
      concurrency: 64,
      describe: (c) => ({ consultaId: c.id, inicio: c.inicio }),
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
    if (key) {
      const replay = await this.replay(key, options.respondAsync);
      if (replay) return replay;
    }
    let enqueued: { task: TaskRecord; done: Promise<BookingResponse> };
    try {
      enqueued = input.encaixe ? this.enqueueEncaixe(input, inicioMs, key, context) : this.enqueueRegular(input, inicioMs, key, context);
    } catch (error) {
      if (key && error instanceof AppError && error.status < 500) await this.rememberFailure(key, error);
      throw error;
    }
    if (key) {
      this.inflight.set(key.hash, { fingerprint: key.fingerprint, task: enqueued.task, done: enqueued.done });
      enqueued.done.then(
        () => this.inflight.delete(key.hash),
        () => this.inflight.delete(key.hash),
      );
    }
    if (options.respondAsync) return { kind: 'accepted', task: enqueued.task };
    return { kind: 'response', response: await enqueued.done };
  }

  /** Early checks of a regular booking against the cache, then the slot reserved and the task queued. */
  private enqueueRegular(input: AgendarInput, inicioMs: number, key: IdempotencyKey | undefined, context: RequestContext | undefined) {
    const { rules } = this.deps;
    const request = { medicoId: input.medicoId, pacienteId: input.pacienteId, inicioMs };
    const { slot } = rules.slotFor(request);
    rules.assertPacienteFree(request, slot);
    return this.reserveAndEnqueue<BookingResponse>('agendar_consulta', input.medicoId, slot, (reservation) => ({
      input, inicioMs, slot, reservation, key, context,
    }) satisfies AgendarTask);
  }

  /**
   * Early checks of an encaixe, then its task queued. No slot is reserved (encaixes never change slot states);
   * the daily limit is decided by the worker under the storage lock, so it holds across processes.
   */
  private enqueueEncaixe(input: AgendarInput, inicioMs: number, key: IdempotencyKey | undefined, context: RequestContext | undefined) {
    const { rules, queue } = this.deps;
    const duracaoMin = input.duracaoMin ?? ENCAIXE_DURACAO_PADRAO_MIN;
    const request = { medicoId: input.medicoId, pacienteId: input.pacienteId, inicioMs, duracaoMin };
    const { medico, slot } = rules.encaixeFor(request);
    rules.assertEncaixeLimit(medico, slot);
    rules.assertPacienteFree(request, slot);
    const task: AgendarTask = { input, inicioMs, slot, reservation: undefined, encaixe: { duracaoMin }, key, context };
    return queue.add<BookingResponse>('agendar_consulta', task);
  }

  async remarcar(consultaId: string, inicio: string, respondAsync: boolean): Promise<{ kind: 'done'; consulta: ConsultaRecord } | { kind: 'accepted'; task: TaskRecord }> {
    const { consultas, rules } = this.deps;
    const consulta = consultas.get(consultaId);
    if (!consulta) throw notFound('Consulta');
    assertOwnMedico('consultas:escrever', consulta.medicoId);
    assertRemarcavel(consulta.status, times(consulta).inicio, this.deps.clock.now().getTime());
    assertNotEncaixe(consulta);
    const inicioMs = Date.parse(inicio);
    if (inicioMs === times(consulta).inicio) {
      throw new AppError('REGRA_AGENDAMENTO', 'A consulta já está neste horário.', [{ path: 'inicio', message: 'Mesmo horário atual.' }]);
    }
    const request = { medicoId: consulta.medicoId, pacienteId: consulta.pacienteId, inicioMs, exceptConsultaId: consultaId };
    const { slot } = rules.slotFor(request);
    rules.assertPacienteFree(request, slot);
    const enqueued = this.reserveAndEnqueue<ConsultaRecord>('remarcar_consulta', consulta.medicoId, slot, (reservation) => ({
      consultaId, slot, reservation, context: currentContext(),
    }) satisfies RemarcarTask);
    if (respondAsync) return { kind: 'accepted', task: enqueued.task };
    return { kind: 'done', consulta: await enqueued.done };
  }

  /** Steps 1 and 2: reserve the slot (or 409), then queue the task that will confirm or release it. */
  private reserveAndEnqueue<R>(tipo: 'agendar_consulta' | 'remarcar_consulta', medicoId: string, slot: SlotTime, payload: (reservation: Reservation) => unknown) {
    const { schedule, queue } = this.deps;
    const reservation = schedule.reserve(medicoId, slot);
    let enqueued;
    try {
      enqueued = queue.add<R>(tipo, payload(reservation));
    } catch (error) {
      schedule.release(reservation);
      throw error;
    }
    // A task dropped at shutdown never runs its worker: give its slot back here (release is idempotent).
    enqueued.done.catch(() => schedule.release(reservation));
    return enqueued;
  }

  /** Deletes remembered keys past their time. */
  async purgeExpiredKeys(): Promise<number> {
    const { store, idempotency, clock } = this.deps;
    if (idempotency.olderThan(clock.now().getTime() - IDEMPOTENCY_TTL_MS).length === 0) return 0;
    return store.transact((tx) => {
      const expired = idempotency.olderThan(clock.now().getTime() - IDEMPOTENCY_TTL_MS);
      for (const id of expired) idempotency.remove(tx, id);
      return expired.length;
    });
  }

  // ---- workers -----------------------------------------------------------------------------------

  private async runAgendar(task: AgendarTask): Promise<BookingResponse> {
    const { store, consultas, idempotency, schedule, clock, timezone, logger, auditor } = this.deps;
    const { input, inicioMs, key } = task;
    try {
      const response = await store.transact((tx): BookingResponse => {
        // Another process may have answered this key while we waited for the lock.
        const stored = key && idempotency.get(key.hash);
        if (stored) return toResponse(stored);
        const request = { medicoId: input.medicoId, pacienteId: input.pacienteId, inicioMs };
        const slot = task.encaixe ? this.checkEncaixe({ ...request, ...task.encaixe }) : this.checkRegular(request);
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
        consultas.save(tx, consulta);
        auditor.stage(tx, { acao: 'consulta.agendar', recurso: 'consulta', recursoId: consulta.id, pacienteIds: [consulta.pacienteId], status: 201 }, task.context);
        const created: BookingResponse = { status: 201, body: consulta, location: `/consultas/${consulta.id}` };
        if (key) idempotency.save(tx, { id: key.hash, fingerprint: key.fingerprint, ...created, criadoEm: clock.now().getTime() });
        return created;
      });
      if (response.status === 201) logger.info({ consultaId: (response.body as ConsultaRecord).id, medicoId: input.medicoId }, 'consulta agendada');
      return response;
    } catch (error) {
      if (key && error instanceof AppError && error.status < 500) await this.rememberFailure(key, error);
      throw error;
    } finally {
      if (task.reservation) schedule.release(task.reservation);
    }
  }

  /** The worker's decisive run of a regular booking's rules (under the lock). */
  private checkRegular(request: BookingRequest): SlotTime {
    const { slot } = this.deps.rules.slotFor(request);
    this.deps.rules.assertFree(request, slot);
    return slot;
  }

  /** The worker's decisive run of an encaixe's rules (under the lock): the daily limit holds across processes. */
  private checkEncaixe(request: EncaixeRequest): SlotTime {
    const { rules } = this.deps;
    const { medico, slot } = rules.encaixeFor(request);
    rules.assertEncaixeLimit(medico, slot);
    rules.assertPacienteFree(request, slot);
    return slot;
  }

  private async runRemarcar(task: RemarcarTask): Promise<ConsultaRecord> {
    const { store, consultas, rules, schedule, clock, timezone, logger, auditor } = this.deps;
    try {
      const updated = await store.transact((tx) => {
        const current = consultas.get(task.consultaId);
        if (!current) throw notFound('Consulta');
        assertRemarcavel(current.status, times(current).inicio, clock.now().getTime());
        const request = { medicoId: current.medicoId, pacienteId: current.pacienteId, inicioMs: task.slot.inicioMs, exceptConsultaId: current.id };
        const { slot } = rules.slotFor(request);
        rules.assertFree(request, slot);
        const moved: ConsultaRecord = {
          ...current,
          inicio: formatInstant(slot.inicioMs, timezone),
          fim: formatInstant(slot.fimMs, timezone),
          atualizadaEm: formatInstant(clock.now(), timezone),
        };
        consultas.save(tx, moved);
        auditor.stage(tx, { acao: 'consulta.remarcar', recurso: 'consulta', recursoId: moved.id, pacienteIds: [moved.pacienteId], status: 200 }, task.context);
        return moved;
      });
      logger.info({ consultaId: updated.id }, 'consulta remarcada');
      return updated;
    } finally {
      schedule.release(task.reservation);
    }
  }

  /** A keyed request that failed on a rule answers the same failure when retried. */
  private async rememberFailure(key: IdempotencyKey, error: AppError): Promise<void> {
    const { store, idempotency, clock, logger } = this.deps;
    const response = problemResponse(error);
    try {
      await store.transact((tx) => {
        if (!idempotency.get(key.hash)) idempotency.save(tx, { id: key.hash, fingerprint: key.fingerprint, ...response, criadoEm: clock.now().getTime() });
      });
    } catch (failure) {
      logger.warn({ err: failure }, 'não foi possível guardar a resposta idempotente');
    }
  }

  /** The remembered or in-flight answer for a key, or 422 when the key came with another body. */
  private async replay(key: IdempotencyKey, respondAsync: boolean): Promise<BookingOutcome | undefined> {
    const stored = this.deps.idempotency.get(key.hash);
    const inflight = this.inflight.get(key.hash);
    const fingerprint = stored?.fingerprint ?? inflight?.fingerprint;
    if (fingerprint === undefined) return undefined;
    if (fingerprint !== key.fingerprint) {
      throw new AppError('IDEMPOTENCIA_CONFLITO', 'Esta Idempotency-Key já foi usada com outro corpo de requisição.');
    }
    if (stored) return { kind: 'response', response: toResponse(stored) };
    if (respondAsync) return { kind: 'accepted', task: inflight!.task };
    return { kind: 'response', response: await inflight!.done };
  }
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
