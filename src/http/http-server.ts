import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Express } from 'express';

/**
 * The HTTP server around the app. Requests that Node's parser refuses before Express sees them
 * (oversized headers or URL, broken request lines) still get a problem+json answer in pt-BR.
 */
export function createHttpServer(app: Express): Server {
  const server = createServer(app);
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
