import { ListMedicosQuery, Medico, MedicoInput, MedicoList } from '../schemas/medico.schema.js';
import type { MedicoService } from '../services/medico.service.js';
import { CrudController } from './crud.controller.js';

/** `/medicos`: the register of médicos. */
export function medicoController(service: MedicoService) {
  return new CrudController(service, {
    tag: 'Médicos',
    base: '/medicos',
    noun: 'médico',
    schemas: { item: Medico, input: MedicoInput, list: MedicoList, query: ListMedicosQuery },
    conflict: 'CRM já cadastrado',
    deleteBlocked: 'O médico tem consultas registradas (inative-o em vez de excluir)',
    permissions: { read: 'medicos:ler', write: 'medicos:escrever', remove: 'medicos:escrever' },
  });
}
