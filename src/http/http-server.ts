import { IncomingMessage, STATUS_CODES, ServerResponse, createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Express } from 'express';
import { AppError } from '../core/errors.js';
import { problemDocument } from '../core/problem-document.js';
import { connectionCap, descriptorLimit } from './connection-limit.js';

/** Time a client has to send its request's headers (Node's default is 60 s). */
export const HEADERS_TIMEOUT_MS = 10_000;
/** Time a client has to send a whole request, headers and body (Node's default is 300 s). */
export const REQUEST_TIMEOUT_MS = 30_000;

export interface HttpServerOptions {
  /** Default {@link HEADERS_TIMEOUT_MS}. */
  headersTimeoutMs?: number;
  /** Default {@link REQUEST_TIMEOUT_MS}; at least `headersTimeoutMs`. */
  requestTimeoutMs?: number;
  /** Connections open at once; default from the process's descriptor limit (see {@link connectionCap}). */
  maxConnections?: number;
}

/**
 * Request and response classes whose prototypes are Express's, so Node builds each request and response as
 * what Express wants and Express's per-request `Object.setPrototypeOf(req, app.request)` finds nothing to change.
 *
 * Changing the prototype of every request and response made V8 build fresh hidden classes for them: measured on a
 * bare Express app, it doubled the CPU time per request and left 3–4 MB of young objects alive at every scavenge,
 * promoted to the old generation and kept until a full GC, so a server holding 100k consultas grew its heap by
 * tens of MB per second of traffic. With these classes: half the CPU, nothing promoted. (A constructor built with
 * `Reflect.construct` also avoids the change but was slower still; a real subclass is what V8 optimises.)
 */
function expressClasses(app: Express): { IncomingMessage?: typeof IncomingMessage; ServerResponse?: typeof ServerResponse } {
  // A plain handler wrapped around an app (tests sign requests in that way) has no prototypes to adopt:
  // Node's own classes then, and Express changes each request's prototype as it always could.
  if (typeof app.request !== 'object' || typeof app.response !== 'object') return {};
  const adopt = (cls: { prototype: object }, proto: object) => {
    Object.setPrototypeOf(cls.prototype, Object.getPrototypeOf(proto));
    Object.defineProperties(cls.prototype, Object.getOwnPropertyDescriptors(proto));
  };
  class AppRequest extends IncomingMessage {}
  class AppResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {}
  adopt(AppRequest, app.request);
  adopt(AppResponse, app.response);
  app.request = AppRequest.prototype as Express['request'];
  app.response = AppResponse.prototype as unknown as Express['response'];
  return { IncomingMessage: AppRequest, ServerResponse: AppResponse };
}

/** Node's parser codes, as catalogued problems (the same builder as every other answer makes their bodies). */
function problemFor(code: string | undefined): AppError {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return new AppError('TEMPO_ESGOTADO', 'A requisição não chegou inteira a tempo.');
  if (code === 'HPE_HEADER_OVERFLOW') return new AppError('CABECALHO_GRANDE_DEMAIS', 'A URL ou os cabeçalhos passam do limite (16 kB).');
  return new AppError('REQUISICAO_MALFORMADA', 'A requisição HTTP não pôde ser lida.');
}

/**
 * The HTTP server around the app. Requests that Node's parser refuses before Express sees them
 * (oversized headers or URL, broken request lines) and requests that arrive too slowly still get a
 * problem+json answer in pt-BR (400, 431, 408).
 *
 * Slow clients cannot hold sockets: headers must arrive within `headersTimeoutMs` and the whole request
 * (body included) within `requestTimeoutMs`, checked every quarter of the shorter one (at most every second).
 * Node applies both only while a request is being received: once it has arrived, a long answer such as an
 * event stream is not cut. And the server holds at most `maxConnections` sockets, below the descriptor
 * limit, so storage always has descriptors left.
 */
export function createHttpServer(app: Express, options: HttpServerOptions = {}): Server {
  const headersTimeout = options.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
  const requestTimeout = Math.max(options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS, headersTimeout);
  const server = createServer(
    {
      ...expressClasses(app),
      headersTimeout,
      requestTimeout,
      // Node checks the two timeouts on this interval (default 30 s, which would let a 1-s timeout last 30).
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(headersTimeout / 4))),
    },
    app,
  );
  server.maxConnections = options.maxConnections ?? connectionCap(descriptorLimit());
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    // Only answer when no response has started on this connection: bytes of ours in the middle of another
    // answer would corrupt it for the client (Node's own handler checks the same).
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const problem = problemFor(error.code);
    // The request line may not have been read: the instance is the root.
    const body = JSON.stringify(problemDocument(problem, '/'));
    // Close once the answer is flushed: a client still trickling bytes in must not keep the socket half-open.
    socket.end(
      `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\n` +
        `Content-Type: application/problem+json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      () => socket.destroy(),
    );
  });
  return server;
}
