import type { Store } from '../infra/storage/store.js';
import { COLLECTIONS } from './collections.js';
import { Index } from './index.js';

/** The stored shape of an appointment (the full contract lands with the scheduling issue). */
export interface ConsultaRecord {
  id: string;
  medicoId: string;
  pacienteId: string;
  inicio: string;
  fim: string;
  status: 'agendada' | 'cancelada' | 'realizada' | 'faltou';
}

const C = COLLECTIONS.consultas;

/** Consultas in the store, indexed by médico and by paciente. */
export class ConsultaRepository {
  private readonly byMedico: Index<ConsultaRecord>;
  private readonly byPaciente: Index<ConsultaRecord>;

  constructor(private readonly store: Store) {
    this.byMedico = new Index<ConsultaRecord>(store, C, (c) => [c.medicoId]);
    this.byPaciente = new Index<ConsultaRecord>(store, C, (c) => [c.pacienteId]);
  }

  /** True when the médico has an `agendada` consulta starting after `now`. */
  medicoHasFutureAgendada(medicoId: string, now: Date): boolean {
    this.store.refresh();
    return this.byMedico.get(medicoId).some((c) => isFutureAgendada(c, now));
  }

  /** True when the paciente has an `agendada` consulta starting after `now`. */
  pacienteHasFutureAgendada(pacienteId: string, now: Date): boolean {
    this.store.refresh();
    return this.byPaciente.get(pacienteId).some((c) => isFutureAgendada(c, now));
  }
}

function isFutureAgendada(c: ConsultaRecord, now: Date): boolean {
  return c.status === 'agendada' && Date.parse(c.inicio) > now.getTime();
}
