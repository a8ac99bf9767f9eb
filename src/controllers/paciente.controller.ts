import type { Request, Response } from 'express';
import type { RouteSpec } from '../http/route.js';
import { IdParams, z } from '../schemas/common.js';
import { Consulta } from '../schemas/consulta.schema.js';
import { ListaEspera } from '../schemas/lista-espera.schema.js';
import { ListPacientesQuery, Paciente, PacienteInput, PacienteList } from '../schemas/paciente.schema.js';
import type { PacienteService } from '../services/paciente.service.js';
import { AuditEntrySchema } from './auditoria.controller.js';
import { CrudController } from './crud.controller.js';
import { NOT_FOUND, UNAVAILABLE, json } from './responses.js';
import { EXEMPLO_PACIENTE_DADOS } from '../schemas/examples.js';

const PacienteDados = z
  .object({
    geradoEm: z.string(),
    paciente: Paciente,
    consultas: z.array(Consulta),
    listaEspera: z.array(ListaEspera),
    auditoria: z.array(AuditEntrySchema),
  })
  .meta({ id: 'PacienteDados', example: EXEMPLO_PACIENTE_DADOS });

/** `/pacientes`: the register of pacientes, and the data subject's rights (LGPD art. 18). */
export function pacienteController(service: PacienteService) {
  const crud = new CrudController(service, {
    tag: 'Pacientes',
    base: '/pacientes',
    noun: 'paciente',
    schemas: { item: Paciente, input: PacienteInput, list: PacienteList, query: ListPacientesQuery },
    conflict: 'CPF já cadastrado (`/problemas/cpf-duplicado`), ou paciente anonimizado, que não pode ser editado (`/problemas/paciente-anonimizado`)',
    deleteBlocked: 'O paciente tem consultas registradas (anonimize em vez de excluir)',
    permissions: { read: 'pacientes:ler', write: 'pacientes:escrever', remove: 'pacientes:lgpd' },
  });
  const dados = async (req: Request, res: Response): Promise<void> => {
    res.json(await service.dados(req.params['id'] as string));
  };
  const anonimizar = async (req: Request, res: Response): Promise<void> => {
    res.json(await service.anonimizar(req.params['id'] as string));
  };
  const lgpd: RouteSpec[] = [
    {
      method: 'get', path: '/pacientes/:id/dados', permission: 'pacientes:lgpd', tag: 'Pacientes', params: IdParams,
      summary: 'Tudo o que a clínica guarda sobre o paciente (LGPD art. 18)',
      description: 'Cadastro, consultas, lista de espera e as entradas da trilha de auditoria que o citam, em JSON (acesso e portabilidade).',
      responses: { 200: json('Os dados do paciente', PacienteDados), 404: NOT_FOUND },
      handler: dados,
    },
    {
      method: 'post', path: '/pacientes/:id/anonimizar', permission: 'pacientes:lgpd', tag: 'Pacientes', params: IdParams,
      summary: 'Anonimiza o paciente (irreversível)',
      description:
        'O nome vira `Paciente anonimizado`; CPF, e-mail e telefone são apagados; a data de nascimento fica só com o ano (`AAAA-01-01`). ' +
        'As consultas ficam, para os registros e estatísticas da clínica. Backups feitos antes ainda têm os dados antigos.',
      responses: { 200: json('Paciente anonimizado', Paciente), 404: NOT_FOUND, 503: UNAVAILABLE },
      handler: anonimizar,
    },
  ];
  return { routes: (): RouteSpec[] => [...crud.routes(), ...lgpd] };
}
