import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { ConsultaReads, ConsultaRecord, Reads } from '../repositories/port.js';
import type { Medico } from '../schemas/medico.schema.js';
import { intervalEndMs, localDate, nextDate, slotStartingAt, startOfDate, wallClockToMs, type SlotTime } from './slots.js';

export interface BookingRequest {
  medicoId: string;
  pacienteId: string;
  inicioMs: number;
  /** When rescheduling: the consulta being moved, which must not conflict with itself. */
  exceptConsultaId?: string | undefined;
}

/** An encaixe asked for: any whole minute inside working hours, for `duracaoMin` minutes. */
export interface EncaixeRequest extends BookingRequest {
  duracaoMin: number;
}

/** What the rules read: the storage port outside a unit of work, the unit of work (`tx`) inside one. */
export type RuleReads = Pick<Reads, 'medicos' | 'pacientes' | 'consultas' | 'bloqueios' | 'feriados'>;

/**
 * Reads, through `reads` (so that inside a unit of work it sees what the unit of work sees), what blocks a
 * médico's time on `date` (YYYY-MM-DD: bloqueios, a holiday), and returns the check of a span of that day: why
 * [fromMs, toMs) cannot be booked, or undefined when it can. Two steps, so the reads go out beside the others.
 */
export type BlockedReason = (reads: RuleReads, medicoId: string, date: string) => Promise<(fromMs: number, toMs: number) => string | undefined>;

export interface BookingRulesDeps {
  /** Where reads go when a rule is not given a unit of work: committed data. */
  storage: RuleReads;
  clock: Clock;
  timezone: string;
  /** `AGENDA_HORIZONTE_DIAS`: how far ahead a consulta may start. */
  horizonDays: number;
  /** Time off and holidays (part of the agenda's truth); none when left out. */
  blockedReason?: BlockedReason | undefined;
  /**
   * Where the early checks (`earlyRegular`, `earlyEncaixe`) read the request's médico, paciente and bloqueios, when
   * not from `storage`: a `SubjectsCache`. It may lag another process's change by a moment, so a refusal on what it
   * says is asked again of `storage` before it is made.
   */
  subjects?: Pick<ConsultaReads, 'subjectsOf'> | undefined;
}

/** When a médico record predates `maxEncaixesDia`. */
const MAX_ENCAIXES_PADRAO = 2;
const DAY_MS = 86_400_000;

/**
 * Every scheduling rule, in one place. The request handler runs them against committed data to answer fast;
 * the booking worker runs them again inside the unit of work (each method takes its `tx` as `reads`), where
 * the data is current across processes, and only that second run decides.
 */
export class BookingRules {
  /** What the early checks read when there are kept subjects: committed data, with those three from memory. */
  private readonly kept: RuleReads | undefined;

  constructor(private readonly deps: BookingRulesDeps) {
    const { storage, subjects } = deps;
    this.kept = subjects && {
      medicos: storage.medicos,
      pacientes: storage.pacientes,
      bloqueios: storage.bloqueios,
      feriados: storage.feriados,
      consultas: { ...storage.consultas, subjectsOf: (medicoId, pacienteId) => subjects.subjectsOf(medicoId, pacienteId) },
    };
  }

  /**
   * The early checks of a regular booking, outside any unit of work: the slot's 422 rules, then the paciente's 409, in
   * one pass that returns the slot and the consulta holding the médico's slot, if any (for the slot's reservation to
   * refuse: `ScheduleState.reserve`).
   */
  earlyRegular(request: BookingRequest): Promise<{ slot: SlotTime; holder: ConsultaRecord | undefined }> {
    return this.early(
      async (reads) => {
        const { slot } = await this.slotFor(request, reads);
        return { slot, holder: await this.slotHolderIfPacienteFree(request, slot, reads) };
      },
      // A holder refuses the booking (the reservation's 409): found over a span cut from kept hours, it may be wrong.
      (found) => found.holder !== undefined,
    );
  }

  /** The early checks of an encaixe, outside any unit of work: its 422 rules, the daily limit, the paciente's 409. */
  earlyEncaixe(request: EncaixeRequest): Promise<{ slot: SlotTime }> {
    return this.early(async (reads) => {
      const { medico, slot } = await this.encaixeFor(request, reads);
      await this.assertEncaixeLimit(medico, slot, reads);
      await this.assertPacienteFree(request, slot, reads);
      return { slot };
    });
  }

  /** 422 rules: the médico and paciente exist, the médico is active, the time is future and a slot start. */
  async slotFor(request: BookingRequest, reads: RuleReads = this.deps.storage): Promise<{ medico: Medico; slot: SlotTime }> {
    // Read together (one round trip on PostgreSQL), decided in order.
    const subjects = withSubjects(reads, request);
    const [medico, blocked] = await Promise.all([this.bookable(request, subjects), this.blocksOn(subjects, request)]);
    const slot = slotStartingAt(medico, request.inicioMs, this.deps.timezone);
    if (!slot) throw rule('inicio', 'O horário não é o início de um horário de atendimento do médico.');
    assertNotBlocked(blocked, slot);
    return { medico, slot };
  }

  /**
   * 422 rules of an encaixe: those of any booking, then a whole minute whose whole span lies inside one working
   * interval of that day. Slots do not matter: an encaixe may start over an occupied one.
   */
  async encaixeFor(request: EncaixeRequest, reads: RuleReads = this.deps.storage): Promise<{ medico: Medico; slot: SlotTime }> {
    const subjects = withSubjects(reads, request);
    const [medico, blocked] = await Promise.all([this.bookable(request, subjects), this.blocksOn(subjects, request)]);
    const { inicioMs } = request;
    if (inicioMs % 60_000 !== 0) throw rule('inicio', 'O encaixe começa num minuto exato (sem segundos).');
    const slot = { inicioMs, fimMs: inicioMs + request.duracaoMin * 60_000 };
    const zone = this.deps.timezone;
    const date = localDate(inicioMs, zone);
    const weekday = new Date(`${date}T00:00:00Z`).getUTCDay(); // 0 = domingo, as `diaSemana` counts
    const inside = medico.horarios.some(
      (h) => h.diaSemana === weekday && wallClockToMs(date, h.inicio, zone, 'earliest') <= slot.inicioMs && slot.fimMs <= intervalEndMs(date, h.fim, zone),
    );
    if (!inside) throw rule('inicio', 'O encaixe precisa caber inteiro dentro de um horário de atendimento do médico.');
    assertNotBlocked(blocked, slot);
    return { medico, slot };
  }

  /**
   * A chain of early checks (no unit of work): on the kept subjects when there are any, and, if any step refuses (or
   * its result would make the caller refuse: `refuses`), the whole chain once more on committed data, whose answer
   * stands. So no refusal rests on a record another process has just changed, nor on a slot cut from its old hours
   * (a conflict of the wrong span).
   */
  private async early<T>(check: (reads: RuleReads) => Promise<T>, refuses: (result: T) => boolean = () => false): Promise<T> {
    const { storage } = this.deps;
    if (!this.kept) return check(storage);
    try {
      const result = await check(this.kept);
      if (!refuses(result)) return result;
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
    }
    return check(storage);
  }

  /** The local date an encaixe counts against (`maxEncaixesDia` is per médico and this day). */
  encaixeDay(slot: SlotTime): string {
    return localDate(slot.inicioMs, this.deps.timezone);
  }

  /**
   * 422 once the médico has `maxEncaixesDia` encaixes (not cancelled) on the encaixe's day. Inside a unit of
   * work, the caller first takes `tx.lock` on the médico and day, so two processes cannot both count below it.
   */
  async assertEncaixeLimit(medico: Medico, slot: SlotTime, reads: RuleReads = this.deps.storage): Promise<void> {
    const zone = this.deps.timezone;
    const date = this.encaixeDay(slot);
    const max = medico.maxEncaixesDia ?? MAX_ENCAIXES_PADRAO;
    const count = (await reads.consultas.encaixesBetween(medico.id, startOfDate(date, zone), startOfDate(nextDate(date), zone))).length;
    if (count >= max) {
      throw rule('encaixe', `O médico já tem ${count} encaixe(s) em ${date}; o limite é ${max} por dia.`);
    }
  }

  /** 409 rules: nobody holds the slot, and the paciente has no other consulta at that time (reported in that order). */
  async assertFree(request: BookingRequest, slot: SlotTime, reads: RuleReads = this.deps.storage): Promise<void> {
    const { medico, paciente } = await this.conflicts(request, slot, reads);
    if (medico) throw new AppError('HORARIO_OCUPADO', 'Este horário já está ocupado.');
    if (paciente) throw pacienteConflict();
  }

  /**
   * The paciente's 409 rule (CONFLITO_PACIENTE), and from the same read the consulta that holds the médico's slot, if
   * any, for the slot's reservation to refuse (`ScheduleState.reserve`, which refuses a reservation in flight
   * first, as the early checks always have). One statement on PostgreSQL, where the early checks used to ask two.
   */
  async slotHolderIfPacienteFree(request: BookingRequest, slot: SlotTime, reads: RuleReads = this.deps.storage): Promise<ConsultaRecord | undefined> {
    const { medico, paciente } = await this.conflicts(request, slot, reads);
    if (paciente) throw pacienteConflict();
    return medico;
  }

  private conflicts(request: BookingRequest, slot: SlotTime, reads: RuleReads) {
    return reads.consultas.conflictsAt(request.medicoId, request.pacienteId, slot.inicioMs, slot.fimMs, request.exceptConsultaId);
  }

  /** 409 when the paciente has a consulta still to happen (any médico, encaixes too) overlapping the slot. */
  async assertPacienteFree(request: BookingRequest, slot: SlotTime, reads: RuleReads = this.deps.storage): Promise<void> {
    if (await reads.consultas.pacienteConflict(request.pacienteId, slot.inicioMs, slot.fimMs, request.exceptConsultaId)) throw pacienteConflict();
  }

  /** The médico, when the request may book at all: both exist, the médico is active, the time is ahead and within the horizon. */
  private async bookable(request: BookingRequest, reads: RuleReads): Promise<Medico> {
    const { clock, horizonDays } = this.deps;
    const [medico, paciente] = await Promise.all([reads.medicos.get(request.medicoId), reads.pacientes.get(request.pacienteId)]);
    if (!medico) throw invalidReference('medicoId', 'Médico inexistente.');
    if (!paciente) throw invalidReference('pacienteId', 'Paciente inexistente.');
    if (!medico.ativo) throw rule('medicoId', 'O médico está inativo e não recebe agendamentos.');
    const now = clock.now().getTime();
    if (request.inicioMs <= now) throw rule('inicio', 'O horário já passou.');
    if (request.inicioMs > now + horizonDays * DAY_MS) {
      throw rule('inicio', `A agenda aceita consultas até ${horizonDays} dias à frente (AGENDA_HORIZONTE_DIAS).`);
    }
    return medico;
  }

  /** What blocks the request's médico on its day (nothing without a `blockedReason`). */
  private async blocksOn(reads: RuleReads, request: BookingRequest): Promise<(fromMs: number, toMs: number) => string | undefined> {
    const { blockedReason, timezone } = this.deps;
    return blockedReason ? blockedReason(reads, request.medicoId, localDate(request.inicioMs, timezone)) : () => undefined;
  }
}

/**
 * `reads`, with the request's médico, paciente and the médico's bloqueios answered by one `subjectsOf` read, asked
 * now: the rules (and the bloqueio check they call) ask for them separately, and on PostgreSQL three statements
 * cost three times what one does.
 */
function withSubjects(reads: RuleReads, request: BookingRequest): RuleReads {
  const { medicoId, pacienteId } = request;
  const subjects = reads.consultas.subjectsOf(medicoId, pacienteId);
  return {
    ...reads,
    medicos: { ...reads.medicos, get: (id) => (id === medicoId ? subjects.then((s) => s.medico) : reads.medicos.get(id)) },
    pacientes: { ...reads.pacientes, get: (id) => (id === pacienteId ? subjects.then((s) => s.paciente) : reads.pacientes.get(id)) },
    bloqueios: { ...reads.bloqueios, ofMedico: (id) => (id === medicoId ? subjects.then((s) => s.bloqueios) : reads.bloqueios.ofMedico(id)) },
  };
}

function assertNotBlocked(blocked: (fromMs: number, toMs: number) => string | undefined, slot: SlotTime): void {
  const motivo = blocked(slot.inicioMs, slot.fimMs);
  if (motivo !== undefined) throw rule('inicio', `O horário está bloqueado: ${motivo}.`);
}

const invalidReference = (path: string, message: string) =>
  new AppError('REFERENCIA_INVALIDA', message, [{ path, message }]);

const pacienteConflict = () => new AppError('CONFLITO_PACIENTE', 'O paciente já tem uma consulta agendada que coincide com este horário.');

const rule = (path: string, message: string) => new AppError('REGRA_AGENDAMENTO', message, [{ path, message }]);
