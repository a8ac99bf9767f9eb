import type { Request, Response } from 'express';
import type { LogBuffer, LogEntry } from '../core/logger.js';
import { formatInstant } from '../core/time.js';
import type { RouteSpec } from '../http/route.js';
import { LOG_STREAM_MAX_CLIENTS } from '../infra/log-stream.js';
import type { SseBroker } from '../infra/sse-broker.js';
import { LOG_LEVELS, LogList, LogsQuery } from '../schemas/operations.schema.js';
import { StreamHeaders } from './headers.js';
import { streamOwner, streamRecheck, streamUser, type StreamSessions } from './streams.js';
import { BAD_REQUEST, json, problem } from './responses.js';

const LEVEL_NAMES = Object.fromEntries(Object.entries(LOG_LEVELS).map(([name, n]) => [n, name])) as Record<number, string>;

/** A log entry as the API shows it: readable time and level. */
export function presentLog(entry: LogEntry, timezone: string): Record<string, unknown> {
  const { time, level, msg, pid: _pid, hostname: _host, ...rest } = entry;
  return { hora: formatInstant(time, timezone), nivel: LEVEL_NAMES[level] ?? String(level), msg: msg ?? '', ...rest };
}

/** Recent logs from the bounded in-memory buffer, and a live stream of new ones. */
export class LogsController {
  constructor(private readonly deps: { buffer: LogBuffer; broker: SseBroker; timezone: string; sessions: StreamSessions }) {}

  list = (req: Request, res: Response): void => {
    const query = req.query as unknown as LogsQuery;
    const min = query.nivel ? LOG_LEVELS[query.nivel] : 0;
    const since = query.desde ? Date.parse(query.desde) : 0;
    const q = query.q?.toLowerCase();
    const matching = this.deps.buffer
      .list()
      .filter((e) => e.level >= min && e.time >= since && (!q || String(e.msg ?? '').toLowerCase().includes(q)));
    res.json({ items: matching.slice(-query.limit).map((e) => presentLog(e, this.deps.timezone)) });
  };

  stream = (req: Request, res: Response): void => {
    this.deps.broker.connect(req, res, { lastEventId: req.get('last-event-id'), owner: streamOwner(req), user: streamUser(), recheck: streamRecheck(this.deps.sessions) });
  };

  routes(): RouteSpec[] {
    const tag = 'Sistema';
    return [
      {
        method: 'get', path: '/sistema/logs', permission: 'sistema', tag, summary: 'Entradas recentes do log (buffer limitado em memória)', query: LogsQuery,
        description: '`nivel` é o nível mínimo. As entradas nunca trazem CPF, e-mail, telefone nem nomes de pacientes.',
        responses: { 200: json('Entradas, da mais antiga para a mais nova', LogList), 400: BAD_REQUEST },
        handler: this.list,
      },
      {
        method: 'get', path: '/sistema/logs/stream', permission: 'sistema', tag, summary: 'Log ao vivo (Server-Sent Events, `event: log`)', headers: StreamHeaders,
        description:
          'Entradas enviadas em lotes (a cada ~100 ms); um cliente que não acompanha perde entradas em vez de acumulá-las. ' +
          'O fluxo termina quando a sessão que o abriu acaba ou perde o papel de admin (conferido a cada SSE_HEARTBEAT_MS). ' +
          `No máximo ${LOG_STREAM_MAX_CLIENTS} clientes; além disso, 503 \`/problemas/limite-de-conexoes\` com \`Retry-After\`.`,
        responses: {
          200: { description: 'Fluxo text/event-stream', contentType: 'text/event-stream' },
          503: { ...problem('Limite de clientes do log ao vivo (`/problemas/limite-de-conexoes`)'), headers: { 'Retry-After': 'Segundos até tentar de novo' } },
        },
        handler: this.stream,
      },
    ];
  }
}
