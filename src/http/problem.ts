import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { AppError, type ProblemCode } from '../core/errors.js';
import { causesOf, type Logger } from '../core/logger.js';
import { internalError, problemDocument } from '../core/problem-document.js';
import { requestLog } from './request-context.js';

/** Writes an RFC 9457 problem document (built by `problemDocument`, the one builder). */
export function sendProblem(res: Response, error: AppError, instance?: string): void {
  if (error.headers) res.set(error.headers);
  res.status(error.status).type('application/problem+json').json(problemDocument(error, instance));
}

/** body-parser reports its failures with a `type`; each maps to one problem. */
const BODY_PARSER_ERRORS: Record<string, [ProblemCode, string]> = {
  'entity.parse.failed': ['JSON_INVALIDO', 'O corpo da requisição não é um JSON válido.'],
  'entity.too.large': ['CORPO_GRANDE_DEMAIS', 'O corpo da requisição passa do limite de 100 kB.'],
  'encoding.unsupported': ['TIPO_NAO_SUPORTADO', 'Codificação do corpo não suportada.'],
  'charset.unsupported': ['TIPO_NAO_SUPORTADO', 'Charset não suportado; use UTF-8.'],
  'request.aborted': ['JSON_INVALIDO', 'O envio do corpo foi interrompido.'],
  'request.size.invalid': ['JSON_INVALIDO', 'O tamanho do corpo não confere com Content-Length.'],
};

function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  const type = (error as { type?: unknown } | null)?.type;
  if (typeof type === 'string' && type in BODY_PARSER_ERRORS) {
    const [code, detail] = BODY_PARSER_ERRORS[type]!;
    return new AppError(code, detail);
  }
  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new AppError('VALIDACAO', 'Requisição inválida.');
  }
  return undefined;
}

function instanceOf(url: string): string {
  return url.split('?')[0] ?? '/';
}

/**
 * The one place errors become HTTP answers. Known errors keep their status; anything else is logged
 * and answered with a bare 500 that hides its details.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const known = toAppError(error);
    if (known) {
      // 503 is a state the service passes through (the database restarting, the queue full, a shutdown), not a
      // fault of the code: a warning naming its causes, without a stack. Other 5xx are faults, logged with it.
      if (known.status === 503) requestLog(res, logger).warn({ code: known.code, causas: causesOf(error) }, known.detail);
      else if (known.status >= 500) requestLog(res, logger).error({ err: error, code: known.code }, known.detail);
      sendProblem(res, known, instanceOf(req.originalUrl));
      return;
    }
    requestLog(res, logger).error({ err: error }, 'erro não tratado');
    sendProblem(res, internalError(), instanceOf(req.originalUrl));
  };
}

/** 404 for any route that does not exist. */
export const routeNotFound: RequestHandler = (req, res) => {
  sendProblem(res, new AppError('ROTA_INEXISTENTE', `Não existe ${req.method} ${instanceOf(req.originalUrl)}.`), instanceOf(req.originalUrl));
};

/** JSON endpoints take JSON: a body of any other type is refused with 415 before it is read. */
export const requireJsonBody: RequestHandler = (req, _res, next) => {
  const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (hasBody && !req.is(['application/json', 'application/*+json'])) {
    throw new AppError('TIPO_NAO_SUPORTADO', 'Envie o corpo como application/json.');
  }
  next();
};

