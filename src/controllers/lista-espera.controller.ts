import type { Request, Response } from 'express';
import type { RouteSpec } from '../http/route.js';
import { IdParams } from '../schemas/common.js';
import {
  HorariosLivres,
  HorariosLivresQuery,
  ListaEspera,
  ListaEsperaInput,
  ListaEsperaList,
  ListListaEsperaQuery,
} from '../schemas/lista-espera.schema.js';
import type { HorariosLivresService } from '../services/horarios-livres.service.js';
import type { ListaEsperaService } from '../services/lista-espera.service.js';
import { BAD_REQUEST, NOT_FOUND, UNAVAILABLE, WRITE_ERRORS, empty, json, problem } from './responses.js';

const FORBIDDEN = problem('Seu usuário não tem acesso a este médico (`/problemas/acesso-negado`)');

/** `/lista-espera`, the waiting list, and `/horarios-livres`, the next free slots across médicos. */
export class ListaEsperaController {
  constructor(
    private readonly listaEspera: ListaEsperaService,
    private readonly horariosLivres: HorariosLivresService,
  ) {}

  create = async (req: Request, res: Response): Promise<void> => {
    const created = await this.listaEspera.create(req.body as ListaEsperaInput);
    res.status(201).location(`/lista-espera/${created.id}`).json(created);
  };

  list = async (req: Request, res: Response): Promise<void> => {
    res.json(await this.listaEspera.list(req.query as unknown as ListListaEsperaQuery));
  };

  remove = async (req: Request, res: Response): Promise<void> => {
    await this.listaEspera.remove(req.params['id'] as string);
    res.status(204).end();
  };

  livres = async (req: Request, res: Response): Promise<void> => {
    res.json(await this.horariosLivres.next(req.query as unknown as HorariosLivresQuery));
  };

  routes(): RouteSpec[] {
    return [
      {
        method: 'post', path: '/lista-espera', permission: 'lista-espera', tag: 'Lista de espera', summary: 'Inclui um paciente na lista de espera',
        description:
          'Para um médico (`medicoId`), para qualquer médico de uma especialidade (`especialidade`) ou os dois (o médico deve ser da especialidade). ' +
          '`de` e `ate` aceitam data (AAAA-MM-DD: o dia inteiro no fuso da clínica; `ate` inclusive) ou instante; a janela deve terminar no futuro. ' +
          'Quando um horário que a entrada aceita fica `disponivel` (cancelamento, remarcação, bloqueio removido), o fluxo da agenda envia ' +
          '`event: vaga_disponivel`. Um usuário médico só inclui pacientes na lista do próprio médico.',
        body: ListaEsperaInput,
        responses: {
          201: json('Incluído', ListaEspera, { Location: 'URL da entrada' }), ...WRITE_ERRORS, 403: FORBIDDEN,
          422: problem('Paciente ou médico inexistente (`/problemas/referencia-invalida`)'),
        },
        handler: this.create,
      },
      {
        method: 'get', path: '/lista-espera', permission: 'lista-espera', tag: 'Lista de espera', summary: 'Lista a lista de espera, por ordem de chegada',
        description:
          '`ativa=true`: a janela ainda não terminou e o paciente ainda não foi agendado nela (consulta não cancelada, marcada depois da entrada, ' +
          'com um médico que a entrada aceita); entradas excluídas deixam de existir. Um usuário médico vê só as entradas do próprio médico. ' +
          'A leitura fica na trilha de auditoria (`lista_espera.listar`).',
        query: ListListaEsperaQuery,
        responses: { 200: json('Página de entradas', ListaEsperaList), 400: BAD_REQUEST, 403: FORBIDDEN },
        handler: this.list,
      },
      {
        method: 'delete', path: '/lista-espera/:id', permission: 'lista-espera', tag: 'Lista de espera', summary: 'Exclui uma entrada da lista de espera',
        params: IdParams,
        responses: { 204: empty('Excluída'), 403: FORBIDDEN, 404: NOT_FOUND, 503: UNAVAILABLE },
        handler: this.remove,
      },
      {
        method: 'get', path: '/horarios-livres', permission: 'agenda:ler', tag: 'Agenda', summary: 'Próximos horários livres entre médicos',
        description:
          'Os próximos horários `disponivel` dos médicos ativos (de uma especialidade, ou um médico), a partir de `de` (padrão: agora), ' +
          'por ordem de início, até `limit` ou até o horizonte de agendamento (AGENDA_HORIZONTE_DIAS). Um usuário médico vê só os próprios.',
        query: HorariosLivresQuery,
        responses: { 200: json('Horários livres', HorariosLivres), 400: BAD_REQUEST, 403: FORBIDDEN, 404: problem('Médico inexistente') },
        handler: this.livres,
      },
    ];
  }
}
