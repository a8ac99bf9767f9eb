import { IncomingMessage, ServerResponse, createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Express } from 'express';

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
function expressClasses(app: Express): { IncomingMessage: typeof IncomingMessage; ServerResponse: typeof ServerResponse } {
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

/**
 * The HTTP server around the app. Requests that Node's parser refuses before Express sees them
 * (oversized headers or URL, broken request lines) still get a problem+json answer in pt-BR.
 */
export function createHttpServer(app: Express): Server {
  const server = createServer(expressClasses(app), app);
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? 431 : 400;
    const body = JSON.stringify({
      type: tooLarge ? '/problemas/cabecalho-grande-demais' : '/problemas/requisicao-malformada',
      title: tooLarge ? 'Cabeçalhos grandes demais' : 'Requisição HTTP malformada',
      status,
      detail: tooLarge ? 'A URL ou os cabeçalhos passam do limite (16 kB).' : 'A requisição HTTP não pôde ser lida.',
      instance: '/',
    });
    socket.end(
      `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
        `Content-Type: application/problem+json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  return server;
}
