import type { Request, Response } from 'express';
import type { RouteSpec } from '../http/route.js';
import type { SseBroker } from '../infra/sse-broker.js';
import { IdParams } from '../schemas/common.js';
import { Agenda, AgendaQuery } from '../schemas/agenda.schema.js';
import { AgendaStreamQuery } from '../schemas/task.schema.js';
import type { AgendaService } from '../services/agenda.service.js';
import { StreamHeaders } from './headers.js';
import { streamOwner, streamRecheck, streamUser, type StreamSessions } from './streams.js';
import { BAD_REQUEST, NOT_FOUND, json, problem } from './responses.js';

const RETRY_AFTER = { 'Retry-After': 'Segundos até tentar de novo' };

/** The agenda of a médico, and its live stream of slot changes. */
export class AgendaController {
  constructor(
    private readonly agendaService: AgendaService,
    private readonly broker: SseBroker,
    private readonly sessions: StreamSessions,
  ) {}

  agenda = async (req: Request, res: Response): Promise<void> => {
    res.type('application/json').send(await this.agendaService.agendaJson(req.params['id'] as string, req.query as unknown as AgendaQuery));
  };

  stream = async (req: Request, res: Response): Promise<void> => {
    const query = req.query as { medicoId?: string; lastEventId?: string };
    const topic = await this.agendaService.streamTopic(query.medicoId);
    this.broker.connect(req, res, {
      topic,
      lastEventId: req.get('last-event-id') ?? query.lastEventId,
      owner: streamOwner(req),
      user: streamUser(),
      recheck: streamRecheck(this.sessions),
    });
  };

  routes(): RouteSpec[] {
    return [
      {
        method: 'get', path: '/medicos/:id/agenda', permission: 'agenda:ler', tag: 'Agenda', summary: 'Horários de um médico com seus estados',
        description:
          'Informe `data` (um dia) ou `de` e `ate` (no máximo 31 dias). Os dias e horários são lidos no fuso da clínica. ' +
          'Estados: `disponivel` (o único que aceita agendamento), `reservado`, `ocupado` (com `consultaId`), `bloqueado` ' +
          '(bloqueio do médico, feriado que não é ponto facultativo ou médico inativo, com `motivo`) e `passado` (já começou). ' +
          '`encaixes` lista as consultas de encaixe do período.',
        params: IdParams, query: AgendaQuery,
        responses: { 200: json('A agenda', Agenda), 400: BAD_REQUEST, 404: NOT_FOUND },
        handler: this.agenda,
      },
      {
        method: 'get', path: '/sistema/agenda/stream', permission: 'agenda:ler', tag: 'Agenda', summary: 'Eventos da agenda ao vivo (Server-Sent Events)',
        description:
          'Começa com `retry: 3000`. Eventos `horario_reservado`, `horario_ocupado`, `horario_disponivel` com `id` inteiro crescente e ' +
          '`data: { "medicoId", "inicio", "fim", "estado", "consultaId"? }`. ' +
          'Evento `consulta_status` `{ "medicoId", "inicio", "fim", "consultaId", "status", "encaixe" }` a cada mudança de status de uma ' +
          'consulta (confirmada, aguardando, em_atendimento, realizada, faltou, cancelada) e a cada encaixe agendado; o horário continua ' +
          '`ocupado` em todo status menos `cancelada`, e encaixes nunca mudam o estado de um horário. Evento `vaga_disponivel` `{ "medicoId", "inicio", "fim", "listaEsperaIds" }` quando um horário que atende a uma entrada ativa da lista de espera fica livre (cancelamento, remarcação, bloqueio removido), sem dados de pacientes. Evento `agenda_alterada` `{ "medicoId" }` quando a agenda de um médico muda sem evento de horário (horário de trabalho, bloqueio criado ou removido) e `{}` quando todas mudam (feriado): recarregue a agenda. Comentário `: ping` a cada SSE_HEARTBEAT_MS; a cada um, a sessão que abriu o fluxo é conferida, e o fluxo termina quando ela acaba (logout, troca de senha, usuário desativado ou com outro papel, ou SESSION_TTL_MIN sem uso: o fluxo aberto não conta como uso). ' +
          'Com `Last-Event-ID` (ou `?lastEventId=`) reenvia os eventos seguintes; um id mais antigo que o buffer recebe `event: resync` ' +
          '(recarregue a agenda). Com PostgreSQL e vários processos, a reconexão pode cair em outro processo: ele reenvia os commits ' +
          'seguintes e o estado mais recente de cada horário que ele próprio mudou (reservas, liberações); um estado já recebido pode vir ' +
          'de novo, e os ids desse reenvio podem não passar do `Last-Event-ID` (cada processo numera os seus eventos). ' +
          'Um cliente que não lê é desconectado. No máximo SSE_MAX_CLIENTS fluxos abertos no total ' +
          '(além disso, 503 `/problemas/limite-de-conexoes`), 20 por sessão e SSE_MAX_PER_USER (60) por usuário, somadas as suas sessões ' +
          '(além disso, 429 `/problemas/muitas-conexoes`), ' +
          'ambos com `Retry-After`.',
        query: AgendaStreamQuery, headers: StreamHeaders,
        responses: {
          200: { description: 'Fluxo text/event-stream', contentType: 'text/event-stream' },
          400: BAD_REQUEST,
          404: problem('Médico inexistente'),
          429: { ...problem('Fluxos demais abertos por esta sessão ou por este usuário (`/problemas/muitas-conexoes`)'), headers: RETRY_AFTER },
          503: { ...problem('Limite de fluxos abertos no servidor (`/problemas/limite-de-conexoes`)'), headers: RETRY_AFTER },
        },
        handler: this.stream,
      },
    ];
  }
}
