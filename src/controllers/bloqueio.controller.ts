import type { Request, Response } from 'express';
import type { RouteSpec } from '../http/route.js';
import { Bloqueio, BloqueioInput, BloqueioList } from '../schemas/bloqueio.schema.js';
import { IdParams } from '../schemas/common.js';
import { Feriado, FeriadoInput, FeriadoList, FeriadosQuery } from '../schemas/feriado.schema.js';
import type { BloqueioService } from '../services/bloqueio.service.js';
import type { FeriadoService } from '../services/feriado.service.js';
import { BAD_REQUEST, NOT_FOUND, UNAVAILABLE, WRITE_ERRORS, empty, json, problem } from './responses.js';

const FORBIDDEN = problem('Um usuário médico só gerencia os próprios bloqueios');

/** `/medicos/{id}/bloqueios`, `/bloqueios/{id}` and `/feriados`: when slots are closed. */
export class BloqueioController {
  constructor(
    private readonly bloqueios: BloqueioService,
    private readonly feriados: FeriadoService,
  ) {}

  list = async (req: Request, res: Response): Promise<void> => {
    res.json(await this.bloqueios.list(req.params['id'] as string));
  };

  create = async (req: Request, res: Response): Promise<void> => {
    const created = await this.bloqueios.create(req.params['id'] as string, req.body as BloqueioInput);
    res.status(201).location(`/bloqueios/${created.id}`).json(created);
  };

  remove = async (req: Request, res: Response): Promise<void> => {
    await this.bloqueios.remove(req.params['id'] as string);
    res.status(204).end();
  };

  listFeriados = async (req: Request, res: Response): Promise<void> => {
    res.json({ items: await this.feriados.list((req.query as unknown as FeriadosQuery).ano) });
  };

  createFeriado = async (req: Request, res: Response): Promise<void> => {
    const created = await this.feriados.create(req.body as FeriadoInput);
    res.status(201).location(`/feriados/${created.id}`).json({ id: created.id, data: created.data, nome: created.nome, tipo: 'clinica', pontoFacultativo: false });
  };

  removeFeriado = async (req: Request, res: Response): Promise<void> => {
    await this.feriados.remove(req.params['id'] as string);
    res.status(204).end();
  };

  routes(): RouteSpec[] {
    const tag = 'Bloqueios e feriados';
    return [
      {
        method: 'get', path: '/medicos/:id/bloqueios', permission: 'bloqueios', tag, summary: 'Bloqueios (folgas, férias, congressos) de um médico', params: IdParams,
        responses: { 200: json('Os bloqueios, por início', BloqueioList), 403: FORBIDDEN, 404: NOT_FOUND },
        handler: this.list,
      },
      {
        method: 'post', path: '/medicos/:id/bloqueios', permission: 'bloqueios', tag, summary: 'Bloqueia um período da agenda de um médico', params: IdParams, body: BloqueioInput,
        description:
          'Os horários que o bloqueio cobre aparecem como `bloqueado` (com o `motivo`) e não aceitam agendamento. ' +
          'Um bloqueio sobre consultas `agendada`/`confirmada` é recusado com 409 `/problemas/consultas-afetadas`, que lista seus ids em `consultas`.',
        responses: {
          201: json('Criado', Bloqueio, { Location: 'URL do bloqueio' }), ...WRITE_ERRORS, 403: FORBIDDEN, 404: NOT_FOUND,
          409: problem('O bloqueio cobre consultas agendadas (`/problemas/consultas-afetadas`, ids em `consultas`)'),
        },
        handler: this.create,
      },
      {
        method: 'delete', path: '/bloqueios/:id', permission: 'bloqueios', tag, summary: 'Remove um bloqueio', params: IdParams,
        description: 'Os horários liberados voltam a `disponivel`; o fluxo da agenda envia `horario_disponivel` para cada um (próximos 31 dias, no máximo 500).',
        responses: { 204: empty('Removido'), 403: FORBIDDEN, 404: NOT_FOUND, 503: UNAVAILABLE },
        handler: this.remove,
      },
      {
        method: 'get', path: '/feriados', permission: 'medicos:ler', tag, summary: 'Feriados de um ano', query: FeriadosQuery,
        description:
          'Nacionais (datas fixas e Sexta-feira Santa; Carnaval e Corpus Christi como `pontoFacultativo: true`), estaduais da UF ' +
          'CLINIC_UF (se configurada) e os da clínica. Um feriado que não é ponto facultativo deixa os horários do dia `bloqueado`. ' +
          'Com FERIADOS_NACIONAIS=false, os nacionais não são listados nem bloqueiam.',
        responses: { 200: json('Os feriados, por data', FeriadoList), 400: BAD_REQUEST },
        handler: this.listFeriados,
      },
      {
        method: 'post', path: '/feriados', permission: 'medicos:escrever', tag, summary: 'Cadastra um feriado da clínica (municipal, recesso)', body: FeriadoInput,
        responses: { 201: json('Criado', Feriado, { Location: 'URL do feriado' }), ...WRITE_ERRORS },
        handler: this.createFeriado,
      },
      {
        method: 'delete', path: '/feriados/:id', permission: 'medicos:escrever', tag, summary: 'Exclui um feriado da clínica', params: IdParams,
        responses: { 204: empty('Excluído'), 404: NOT_FOUND, 503: UNAVAILABLE },
        handler: this.removeFeriado,
      },
    ];
  }
}
