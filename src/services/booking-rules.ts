import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { ConsultaRepository } from '../infra/storage/json/repositories/consulta.repository.js';
import type { MedicoRepository } from '../infra/storage/json/repositories/medico.repository.js';
import type { PacienteRepository } from '../infra/storage/json/repositories/paciente.repository.js';
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

/** Says why [fromMs, toMs) of a médico cannot be booked (a bloqueio, a holiday), or undefined when it can. */
export type BlockedReason = (medicoId: string, fromMs: number, toMs: number) => string | undefined;

export interface BookingRulesDeps {
  medicos: MedicoRepository;
  pacientes: PacienteRepository;
  consultas: ConsultaRepository;
  clock: Clock;
  timezone: string;
  /** `AGENDA_HORIZONTE_DIAS`: how far ahead a consulta may start. */
  horizonDays: number;
  /** Time off and holidays (part of the agenda's truth); none when left out. */
  blockedReason?: BlockedReason | undefined;
}

/** When a médico record predates `maxEncaixesDia`. */
const MAX_ENCAIXES_PADRAO = 2;
const DAY_MS = 86_400_000;

/**
 * Every scheduling rule, in one place. The request handler runs them against the cache to answer fast;
 * the booking worker runs them again inside the storage transaction, where the data is current across
 * processes, and only that second run decides.
 */
export class BookingRules {
  constructor(private readonly deps: BookingRulesDeps) {}

  /** 422 rules: the médico and paciente exist, the médico is active, the time is future and a slot start. */
  slotFor(request: BookingRequest): { medico: Medico; slot: SlotTime } {
    const medico = this.bookable(request);
    const slot = slotStartingAt(medico, request.inicioMs, this.deps.timezone);
    if (!slot) throw rule('inicio', 'O horário não é o início de um horário de atendimento do médico.');
    this.assertNotBlocked(medico.id, slot);
    return { medico, slot };
  }

  /**
   * 422 rules of an encaixe: those of any booking, then a whole minute whose whole span lies inside one working
   * interval of that day. Slots do not matter: an encaixe may start over an occupied one.
   */
  encaixeFor(request: EncaixeRequest): { medico: Medico; slot: SlotTime } {
    const medico = this.bookable(request);
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
    this.assertNotBlocked(medico.id, slot);
    return { medico, slot };
  }

  /** 422 once the médico has `maxEncaixesDia` encaixes (not cancelled) on the encaixe's day. */
  assertEncaixeLimit(medico: Medico, slot: SlotTime): void {
    const zone = this.deps.timezone;
    const date = localDate(slot.inicioMs, zone);
    const max = medico.maxEncaixesDia ?? MAX_ENCAIXES_PADRAO;
    const count = this.deps.consultas.encaixesBetween(medico.id, startOfDate(date, zone), startOfDate(nextDate(date), zone)).length;
    if (count >= max) {
      throw rule('encaixe', `O médico já tem ${count} encaixe(s) em ${date}; o limite é ${max} por dia.`);
    }
  }

  /** 409 rules: nobody holds the slot, and the paciente has no other consulta at that time. */
  assertFree(request: BookingRequest, slot: SlotTime): void {
    const { consultas } = this.deps;
    if (consultas.medicoConflict(request.medicoId, slot.inicioMs, slot.fimMs, request.exceptConsultaId)) {
      throw new AppError('HORARIO_OCUPADO', 'Este horário já está ocupado.');
    }
    this.assertPacienteFree(request, slot);
  }

  /** 409 when the paciente has a consulta still to happen (any médico, encaixes too) overlapping the slot. */
  assertPacienteFree(request: BookingRequest, slot: SlotTime): void {
    if (this.deps.consultas.pacienteConflict(request.pacienteId, slot.inicioMs, slot.fimMs, request.exceptConsultaId)) {
      throw new AppError('CONFLITO_PACIENTE', 'O paciente já tem uma consulta agendada que coincide com este horário.');
    }
  }

  /** The médico, when the request may book at all: both exist, the médico is active, the time is ahead and within the horizon. */
  private bookable(request: BookingRequest): Medico {
    const { medicos, pacientes, clock, horizonDays } = this.deps;
    const medico = medicos.get(request.medicoId);
    if (!medico) throw invalidReference('medicoId', 'Médico inexistente.');
    if (!pacientes.get(request.pacienteId)) throw invalidReference('pacienteId', 'Paciente inexistente.');
    if (!medico.ativo) throw rule('medicoId', 'O médico está inativo e não recebe agendamentos.');
    const now = clock.now().getTime();
    if (request.inicioMs <= now) throw rule('inicio', 'O horário já passou.');
    if (request.inicioMs > now + horizonDays * DAY_MS) {
      throw rule('inicio', `A agenda aceita consultas até ${horizonDays} dias à frente (AGENDA_HORIZONTE_DIAS).`);
    }
    return medico;
  }

  private assertNotBlocked(medicoId: string, slot: SlotTime): void {
    const motivo = this.deps.blockedReason?.(medicoId, slot.inicioMs, slot.fimMs);
    if (motivo !== undefined) throw rule('inicio', `O horário está bloqueado: ${motivo}.`);
  }
}

const invalidReference = (path: string, message: string) =>
  new AppError('REFERENCIA_INVALIDA', message, [{ path, message }]);

const rule = (path: string, message: string) => new AppError('REGRA_AGENDAMENTO', message, [{ path, message }]);
