import { ListPacientesQuery, Paciente, PacienteInput, PacienteList } from '../schemas/paciente.schema.js';
import type { PacienteService } from '../services/paciente.service.js';
import { CrudController } from './crud.controller.js';

/** `/pacientes`: the register of pacientes. */
export function pacienteController(service: PacienteService) {
  return new CrudController(service, {
    tag: 'Pacientes',
    base: '/pacientes',
    noun: 'paciente',
    schemas: { item: Paciente, input: PacienteInput, list: PacienteList, query: ListPacientesQuery },
    conflict: 'CPF já cadastrado',
    deleteBlocked: 'O paciente tem consultas futuras agendadas',
  });
}
