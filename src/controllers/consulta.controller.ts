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
import { BookingHeaders, IDEMPOTENCY_KEY, PreferHeaders } from './headers.js';
import { BAD_REQUEST, NOT_FOUND, UNAVAILABLE, WRITE_ERRORS, json, problem, sendAccepted } from './responses.js';

/** `Prefer: respond-async` (RFC 7240), possibly among other preferences. */
const wantsAsync = (req: Request) => /(^|[\s,;])respond-async($|[\s,;])/i.test(req.get('prefer') ?? '');

function idempotencyKey(req: Request): string | undefined {
  const key = req.get('idempotency-key');
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(key)) {
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

  checkin = async (req: Request, res: Response): Promise<void> => {
    res.json(await this.consultas.checkin(req.params['id'] as string));
  };

  atualizarStatus = async (req: Request, res: Response): Promise<void> => {
    res.json(await this.consultas.atualizarStatus(req.params['id'] as string, req.body as AtualizarStatusInput));
  };

  routes(): RouteSpec[] {
    const tag = 'Consultas';
    const one = '/consultas/:id';
    const ocupado = problem('Horário reservado/ocupado (`/problemas/horario-ocupado`) ou paciente com outra consulta no horário (`/problemas/conflito-paciente`)');
    const regras = 'Regra de agendamento: horário no passado ou além de AGENDA_HORIZONTE_DIAS, fora dos horários do médico, horário bloqueado, médico inativo';
    const regra = problem(`${regras}, médico ou paciente inexistente, limite diário de encaixes, Idempotency-Key com outro corpo`);
    // A move takes no Idempotency-Key: repeated, it finds the consulta already there (422), so it never moves twice.
    const regraRemarcar = problem(`${regras}, a consulta já neste horário, encaixe (cancele e agende outro)`);
    const statusInvalido = (quando: string) => problem(`Transição não permitida pela máquina de status (\`/problemas/status-invalido\`): ${quando}`);
    return [
      {
        method: 'post', path: '/consultas/agendar', permission: 'consultas:escrever', tag, summary: 'Agenda uma consulta (pela fila)', body: AgendarInput, headers: BookingHeaders,
        description:
          'O horário fica `reservado` na hora, a tarefa `agendar_consulta` entra na fila e o trabalhador confere as regras sob a trava dos arquivos. ' +
          'Por padrão a resposta espera a tarefa (201). Com `Prefer: respond-async` responde 202 com a tarefa. ' +
          'Com `Idempotency-Key`, uma repetição com o mesmo corpo devolve a primeira resposta, seja qual for a etapa que a deu ' +
          '(inclusive uma recusa 409/422 das verificações iniciais), lembrada por 48 h, mesmo após reinício. ' +
          '`inicio` a mais de AGENDA_HORIZONTE_DIAS dias (padrão 365) → 422. ' +
          'Encaixe: com `"encaixe": true` e `"duracaoMin"` (5–60, padrão 15) a consulta começa em qualquer minuto exato dentro de um ' +
          'intervalo de atendimento do médico (o encaixe inteiro dentro dele), mesmo sobre um horário ocupado; no máximo `maxEncaixesDia` ' +
          'do médico por dia (além disso, 422); conflito de paciente continua valendo (409). Encaixes não reservam nem ocupam horários: ' +
          'o estado dos horários regulares não muda, e a agenda os lista em `encaixes`.',
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
        method: 'post', path: `${one}/cancelar`, permission: 'consultas:escrever', tag, summary: 'Cancela uma consulta agendada ou confirmada', params: IdParams, body: CancelarInput, optionalBody: true,
        description: 'Só antes do início (`agendada` ou `confirmada` → `cancelada`); depois dele, 409: registre a falta com `PATCH` `{ "status": "faltou" }`.',
        responses: {
          200: json('Consulta cancelada', Consulta),
          ...WRITE_ERRORS,
          404: NOT_FOUND,
          409: statusInvalido('a consulta não está agendada/confirmada, ou já começou (use faltou)'),
        },
        handler: this.cancelar,
      },
      {
        method: 'post', path: `${one}/checkin`, permission: 'consultas:escrever', tag, summary: 'Check-in: o paciente chegou (sala de espera)', params: IdParams,
        description:
          '`agendada` ou `confirmada` → `aguardando`, registrando `chegouEm`. Abre 2 horas antes do início (e continua aberto depois dele); ' +
          'antes disso, ou em outro status, 409 `/problemas/status-invalido`.',
        responses: {
          200: json('Consulta aguardando', Consulta),
          ...WRITE_ERRORS,
          404: NOT_FOUND,
          409: statusInvalido('outro status, ou mais de 2 horas antes do início'),
        },
        handler: this.checkin,
      },
      {
        method: 'post', path: `${one}/remarcar`, permission: 'consultas:escrever', tag, summary: 'Remarca uma consulta (pela fila)', params: IdParams, body: RemarcarInput, headers: PreferHeaders,
        description:
          'Mesmas regras do agendamento; se o novo horário falhar, o antigo é mantido. Só para consultas `agendada` ou `confirmada` ' +
          'antes do início (o status é mantido); encaixes não são remarcados (422: cancele e agende outro).',
        responses: {
          200: json('Consulta no novo horário', Consulta),
          202: json('Aceita (Prefer: respond-async)', Task, { Location: 'URL da tarefa', 'Preference-Applied': 'respond-async' }),
          ...WRITE_ERRORS,
          404: NOT_FOUND,
          409: problem('Consulta não agendada/confirmada ou já começada (`/problemas/status-invalido`), novo horário ocupado ou paciente com outra consulta'),
          422: regraRemarcar,
        },
        handler: this.remarcar,
      },
      {
        method: 'patch', path: one, permission: 'consultas:status', tag, summary: 'Muda o status: confirmada, em_atendimento, realizada ou faltou', params: IdParams, body: AtualizarStatusInput,
        description:
          'Transições permitidas (uma só máquina de status; qualquer outra → 409 `/problemas/status-invalido`): antes do início, ' +
          '`agendada → confirmada`; depois do início, `agendada|confirmada|aguardando → em_atendimento`, ' +
          '`agendada|confirmada|aguardando|em_atendimento → realizada` e `agendada|confirmada → faltou`. ' +
          '`cancelada` e `aguardando` têm rotas próprias (`/cancelar`, `/checkin`). Confirmar pede a permissão `consultas:escrever`.',
        responses: {
          200: json('Consulta atualizada', Consulta),
          ...WRITE_ERRORS,
          404: NOT_FOUND,
          409: statusInvalido('status atual não permite, ou fora do momento (antes/depois do início)'),
          503: UNAVAILABLE,
        },
        handler: this.atualizarStatus,
      },
    ];
  }
}
