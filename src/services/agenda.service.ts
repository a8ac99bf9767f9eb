import { notFound } from '../core/errors.js';
import type { ScheduleState } from '../infra/schedule-state.js';
import { formatInstant } from '../core/time.js';
import { times, type ConsultaRepository } from '../repositories/consulta.repository.js';
import type { MedicoRepository } from '../repositories/medico.repository.js';
import type { AgendaQuery, SlotEstado } from '../schemas/consulta.schema.js';
import { datesBetween, slotsForDate } from './slots.js';

export interface AgendaSlot {
  inicio: string;
  fim: string;
  estado: SlotEstado;
  consultaId: string | null;
}

export interface AgendaServiceDeps {
  medicos: MedicoRepository;
  consultas: ConsultaRepository;
  schedule: ScheduleState;
  timezone: string;
}

/** The agenda of a médico: slots cut from working hours, each with its current state. */
export class AgendaService {
  constructor(private readonly deps: AgendaServiceDeps) {}

  agenda(medicoId: string, query: AgendaQuery): { medicoId: string; timezone: string; slots: AgendaSlot[] } {
    const { medicos, consultas, schedule, timezone } = this.deps;
    const medico = medicos.get(medicoId);
    if (!medico) throw notFound('Médico');
    const dates = query.data ? [query.data] : datesBetween(query.de!, query.ate!);
    const cuts = dates.flatMap((date) => slotsForDate(medico, date, timezone));
    if (cuts.length === 0) return { medicoId, timezone, slots: [] };

    // One index lookup for the whole range; the agendada consultas then meet the slots in order.
    const LONGEST_MS = 240 * 60_000;
    const held = consultas
      .forMedicoBetween(medicoId, cuts[0]!.inicioMs - LONGEST_MS, cuts[cuts.length - 1]!.fimMs)
      .filter((c) => c.status === 'agendada');
    const slots = cuts.map(({ inicioMs, fimMs }): AgendaSlot => {
      const base = { inicio: formatInstant(inicioMs, timezone), fim: formatInstant(fimMs, timezone) };
      if (schedule.isReserved(medicoId, inicioMs)) return { ...base, estado: 'reservado', consultaId: null };
      const holder = held.find((c) => times(c).inicio < fimMs && times(c).fim > inicioMs);
      return holder ? { ...base, estado: 'ocupado', consultaId: holder.id } : { ...base, estado: 'disponivel', consultaId: null };
    });
    return { medicoId, timezone, slots };
  }
}
