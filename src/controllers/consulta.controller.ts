import type { Request, Response } from 'express';
import { AppError } from '../core/errors.js';
import type { RouteSpec } from '../http/route.js';
import { IdParams } from '../schemas/common.js';
import {
  AgendarInput,
  AtualizarStatusInput,
  CancelarInput,
  Consulta,
  ConsultaList,
  ListConsultasQuery,
  RemarcarInput,
} from '../schemas/consulta.schema.js';
import { Task } from '../schemas/task.schema.js';
import type { BookingService } from '../services/booking.service.js';
import type { ConsultaService } from '../services/consulta.service.js';
import { BAD_REQUEST, NOT_FOUND, UNAVAILABLE, WRITE_ERRORS, json, problem, sendAccepted } from './responses.js';

/** `Prefer: respond-async` (RFC 7240), possibly among other preferences. */
const wantsAsync = (req: Request) => /(^|[\s,;])respond-async($|[\s,;])/i.test(req.get('prefer') ?? '');

function idempotencyKey(req: Request): string | undefined {
  const key = req.get('idempotency-key');
  if (key === undefined) return undefined;
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw new AppError('VALIDACAO', 'Idempotency-Key inválida.', [
      { path: 'Idempotency-Key', message: 'Use de 1 a 255 caracteres ASCII visíveis.' },
    ]);
  }
  return key;
}


/** HTTP ⇄ consultas: the booking flow (through the queue) and the rest. */
export class ConsultaController {
  constructor(
    private readonly booking: BookingService,
    private readonly consultas: ConsultaService,
  ) {}

  agendar = async (req: Request, res: Response): Promise<void> => {
    const outcome = await this.booking.agendar(req.body as AgendarInput, {
      idempotencyKey: idempotencyKey(req),
      respondAsync: wantsAsync(req),
    });
    if (outcome.kind === 'accepted') return sendAccepted(res, outcome.task, true);
    const { status, body, location } = outcome.response;
    if (location) res.location(location);
    if (status >= 400) res.type('application/problem+json');
    res.status(status).json(body);
  };

  list = async (req: Request, res: Response): Promise<void> => {
    res.json(await this.consultas.list(req.query as unknown as ListConsultasQuery));
  };

  get = async (req: Request, res: Response): Promise<void> => {
    res.json(await this.consultas.get(req.params['id'] as string));
  };

  cancelar = async (req: Request, res: Response): Promise<void> => {
    res.json(await this.consultas.cancelar(req.params['id'] as string, (req.body as CancelarInput).motivo));
  };

  remarcar = async (req: Request, res: Response): Promise<void> => {
    const outcome = await this.booking.remarcar(req.params['id'] as string, (req.body as RemarcarInput).inicio, wantsAsync(req));
    if (outcome.kind === 'accepted') return sendAccepted(res, outcome.task, true);
    res.json(outcome.consulta);
  };

  atualizarStatus = async (req: Request, res: Response): Promise<void> => {
    res.json(await this.consultas.atualizarStatus(req.params['id'] as string, req.body as AtualizarStatusInput));
  };

  routes(): RouteSpec[] {
    const tag = 'Consultas';
    const one = '/consultas/:id';
    const ocupado = problem('Horário reservado/ocupado (`/problemas/horario-ocupado`) ou paciente com outra consulta no horário (`/problemas/conflito-paciente`)');
    const regra = problem('Regra de agendamento: horário no passado, fora dos horários do médico, médico inativo, médico ou paciente inexistente, Idempotency-Key com outro corpo');
    return [
      {
        method: 'post', path: '/consultas/agendar', permission: 'consultas:escrever', tag, summary: 'Agenda uma consulta (pela fila)', body: AgendarInput,
        description:
          'O horário fica `reservado` na hora, a tarefa `agendar_consulta` entra na fila e o trabalhador confere as regras sob a trava dos arquivos. ' +
          'Por padrão a resposta espera a tarefa (201). Com `Prefer: respond-async` responde 202 com a tarefa. ' +
          'Com `Idempotency-Key`, uma repetição com o mesmo corpo devolve a primeira resposta (lembrada por 48 h, mesmo após reinício).',
        responses: {
          201: json('Consulta agendada', Consulta, { Location: 'URL da consulta' }),
          202: json('Aceita (Prefer: respond-async)', Task, { Location: 'URL da tarefa', 'Preference-Applied': 'respond-async' }),
          ...WRITE_ERRORS,
          409: ocupado,
          422: regra,
        },
        handler: this.agendar,
      },
      {
        method: 'get', path: '/consultas', permission: 'consultas:ler', tag, summary: 'Lista consultas (ordenadas por início)', query: ListConsultasQuery,
        responses: { 200: json('Página de consultas', ConsultaList), 400: BAD_REQUEST },
        handler: this.list,
      },
      {
        method: 'get', path: one, permission: 'consultas:ler', tag, summary: 'Obtém uma consulta', params: IdParams,
        responses: { 200: json('A consulta', Consulta), 404: NOT_FOUND },
        handler: this.get,
      },
      {
        method: 'post', path: `${one}/cancelar`, permission: 'consultas:escrever', tag, summary: 'Cancela uma consulta agendada', params: IdParams, body: CancelarInput, optionalBody: true,
        responses: { 200: json('Consulta cancelada', Consulta), ...WRITE_ERRORS, 404: NOT_FOUND, 409: problem('A consulta não está agendada') },
        handler: this.cancelar,
      },
      {
        method: 'post', path: `${one}/remarcar`, permission: 'consultas:escrever', tag, summary: 'Remarca uma consulta (pela fila)', params: IdParams, body: RemarcarInput,
        description: 'Mesmas regras do agendamento; se o novo horário falhar, o antigo é mantido.',
        responses: {
          200: json('Consulta no novo horário', Consulta),
          202: json('Aceita (Prefer: respond-async)', Task, { Location: 'URL da tarefa', 'Preference-Applied': 'respond-async' }),
          ...WRITE_ERRORS,
          404: NOT_FOUND,
          409: problem('Consulta não agendada, novo horário ocupado ou paciente com outra consulta'),
          422: regra,
        },
        handler: this.remarcar,
      },
      {
        method: 'patch', path: one, permission: 'consultas:status', tag, summary: 'Registra consulta realizada ou falta', params: IdParams, body: AtualizarStatusInput,
        description: 'Só para consultas `agendada` cujo início já passou.',
        responses: {
          200: json('Consulta atualizada', Consulta),
          ...WRITE_ERRORS,
          404: NOT_FOUND,
          409: problem('A consulta não está agendada'),
          422: problem('A consulta ainda não começou'),
          503: UNAVAILABLE,
        },
        handler: this.atualizarStatus,
      },
    ];
  }
}
