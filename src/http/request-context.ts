import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../core/logger.js';

/**
 * Gives each request an id (echoed in `X-Request-Id`) and a child logger in `res.locals.log`, and logs
 * one line when the response ends. Only the path is logged: query strings can hold a CPF or a name.
 */
export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    const id = incoming && /^[\w.-]{1,64}$/.test(incoming) ? incoming : randomUUID();
    const started = process.hrtime.bigint();
    // The child logger is made only if something logs through it (it costs an allocation per request).
    let child: Logger | undefined;
    Object.defineProperty(res.locals, 'log', { get: () => (child ??= logger.child({ reqId: id })), enumerable: true });
    res.setHeader('X-Request-Id', id);
    res.on('finish', () => {
      const level = res.statusCode >= 500 ? 'error' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const path = req.originalUrl.split('?')[0];
      logger[level]({ reqId: id, method: req.method, path, status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'requisição');
    });
    next();
  };
}
