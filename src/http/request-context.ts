import { randomUUID } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import { requestScope } from '../core/context.js';
import type { Logger } from '../core/logger.js';

/**
 * Gives each request an id (sent back in `X-Request-Id`, kept in `res.locals.reqId`) and logs one line when the
 * response ends. Only the path is logged: query strings can hold a CPF or a name. The id is always the server's own:
 * the audit trail records it, and a client must not be able to write an id of its choosing there (or repeat another
 * request's). An `X-Request-Id` the client sent (a proxy's, say) goes into the request's log line as `reqIdCliente`.
 */
export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    const clientId = incoming && /^[\w.-]{1,64}$/.test(incoming) ? incoming : undefined;
    const id = randomUUID();
    const started = process.hrtime.bigint();
    // A plain field, not a child logger or a lazy getter: an accessor defined per request gives each
    // `res.locals` a hidden class of its own, which under load kept young objects alive into the old generation.
    res.locals.reqId = id;
    res.setHeader('X-Request-Id', id);
    res.on('finish', () => {
      // 503s are warnings (see `errorHandler`): a database restart must not read as a burst of faults.
      const level = res.statusCode === 503 ? 'warn' : res.statusCode >= 500 ? 'error' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const path = req.originalUrl.split('?')[0];
      logger[level]({ reqId: id, reqIdCliente: clientId, method: req.method, path, status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'requisição');
    });
    // Everything downstream (middleware, handlers, services, the audit trail) runs inside this context.
    requestScope.run({ requestId: id, ip: req.ip ?? req.socket.remoteAddress ?? '' }, next);
  };
}

/** The logger for what happens while answering this request: lines carry its id. */
export function requestLog(res: Response, logger: Logger): Logger {
  const reqId = res.locals.reqId as string | undefined;
  return reqId ? logger.child({ reqId }) : logger;
}
