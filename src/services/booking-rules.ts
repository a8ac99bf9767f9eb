import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { ConsultaRepository } from '../repositories/consulta.repository.js';
import type { MedicoRepository } from '../repositories/medico.repository.js';
import type { PacienteRepository } from '../repositories/paciente.repository.js';
import type { Medico } from '../schemas/medico.schema.js';
import { slotStartingAt, type SlotTime } from './slots.js';

export interface BookingRequest {
  medicoId: string;
  pacienteId: string;
  inicioMs: number;
  /** When rescheduling: the consulta being moved, which must not conflict with itself. */
  exceptConsultaId?: string | undefined;
}

export interface BookingRulesDeps {
  medicos: MedicoRepository;
  pacientes: PacienteRepository;
  consultas: ConsultaRepository;
  clock: Clock;
  timezone: string;
}

/**
 * Every scheduling rule, in one place. The request handler runs them against the cache to answer fast;
 * the booking worker runs them again inside the storage transaction, where the data is current across
 * processes, and only that second run decides.
 */
export class BookingRules {
  constructor(private readonly deps: BookingRulesDeps) {}

  /** 422 rules: the médico and paciente exist, the médico is active, the time is future and a slot start. */
  slotFor(request: BookingRequest): { medico: Medico; slot: SlotTime } {
    const { medicos, pacientes, clock, timezone } = this.deps;
    const medico = medicos.get(request.medicoId);
    if (!medico) throw invalidReference('medicoId', 'Médico inexistente.');
    if (!pacientes.get(request.pacienteId)) throw invalidReference('pacienteId', 'Paciente inexistente.');
    if (!medico.ativo) throw rule('medicoId', 'O médico está inativo e não recebe agendamentos.');
    if (request.inicioMs <= clock.now().getTime()) throw rule('inicio', 'O horário já passou.');
    const slot = slotStartingAt(medico, request.inicioMs, timezone);
    if (!slot) throw rule('inicio', 'O horário não é o início de um horário de atendimento do médico.');
    return { medico, slot };
  }

  /** 409 rules: nobody holds the slot, and the paciente has no other consulta at that time. */
  assertFree(request: BookingRequest, slot: SlotTime): void {
    const { consultas } = this.deps;
    if (consultas.medicoConflict(request.medicoId, slot.inicioMs, slot.fimMs, request.exceptConsultaId)) {
      throw new AppError('HORARIO_OCUPADO', 'Este horário já está ocupado.');
    }
    this.assertPacienteFree(request, slot);
  }

  assertPacienteFree(request: BookingRequest, slot: SlotTime): void {
    if (this.deps.consultas.pacienteConflict(request.pacienteId, slot.inicioMs, slot.fimMs, request.exceptConsultaId)) {
      throw new AppError('CONFLITO_PACIENTE', 'O paciente já tem uma consulta agendada que coincide com este horário.');
    }
  }
}

const invalidReference = (path: string, message: string) =>
  new AppError('REFERENCIA_INVALIDA', message, [{ path, message }]);

const rule = (path: string, message: string) => new AppError('REGRA_AGENDAMENTO', message, [{ path, message }]);
