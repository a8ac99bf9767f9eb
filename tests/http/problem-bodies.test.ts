import express from 'express';
import { connect, type AddressInfo } from 'node:net';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { AppError, StorageUnavailableError } from '../../src/core/errors.js';
import { problemSummary } from '../../src/core/problem-document.js';
import { createHttpServer } from '../../src/http/http-server.js';
import { errorHandler } from '../../src/http/problem.js';
import { webApp } from '../../src/http/web-app.js';
import { problemResponse } from '../../src/services/booking-keys.js';
import { silentLogger } from '../helpers/logger.js';
import { tempDir } from '../helpers/tmp.js';

/** Every place that answers with a problem document builds it with one builder: the bytes must agree. */

const affected = () =>
  new AppError('CONSULTAS_AFETADAS', 'A mudança deixaria 1 consulta(s) futura(s) fora dos horários.', [{ path: 'horarios', message: 'Consulta fora.' }], {
    extras: { consultas: ['c1'] },
    headers: { 'Retry-After': '7' },
  });

/** An app whose one route throws `error`, answered by the error middleware. */
function throwing(error: unknown) {
  const app = express();
  app.post('/consultas/agendar', () => {
    throw error;
  });
  app.use(errorHandler(silentLogger));
  return app;
}

/** The raw bytes the HTTP server answers to `bytes` sent on a fresh connection. */
async function rawAnswer(bytes: string): Promise<string> {
  const server = createHttpServer(express());
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise<string>((resolve, reject) => {
      let answer = '';
      const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (answer += chunk));
      socket.on('end', () => resolve(answer));
      socket.on('error', reject);
    });
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('problem documents', () => {
  it('when a route throws, then the body has extension members first, then type, title, status, detail, instance, errors', async () => {
    const res = await request(throwing(affected())).post('/consultas/agendar?x=1');
    expect(res.status).toBe(409);
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(res.headers['retry-after']).toBe('7');
    expect(res.text).toBe(
      '{"consultas":["c1"],"type":"/problemas/consultas-afetadas","title":"Consultas agendadas seriam afetadas","status":409,' +
        '"detail":"A mudança deixaria 1 consulta(s) futura(s) fora dos horários.","instance":"/consultas/agendar",' +
        '"errors":[{"path":"horarios","message":"Consulta fora."}]}',
    );
  });

  it('when a refusal is remembered under an Idempotency-Key, then its body is byte for byte what the middleware answered', async () => {
    for (const error of [affected(), new AppError('HORARIO_OCUPADO', 'Este horário já está ocupado.')]) {
      const res = await request(throwing(error)).post('/consultas/agendar');
      const remembered = problemResponse(error);
      expect(remembered.status).toBe(res.status);
      expect(JSON.stringify(remembered.body)).toBe(res.text);
    }
  });

  it('when storage is unavailable, then 503 armazenamento-indisponivel; an unknown error is a bare 500 that hides its message', async () => {
    const unavailable = await request(throwing(new StorageUnavailableError('O banco de dados está indisponível no momento.'))).post('/consultas/agendar');
    expect(unavailable.status).toBe(503);
    expect(unavailable.body).toEqual({
      type: '/problemas/armazenamento-indisponivel', title: 'Armazenamento indisponível', status: 503,
      detail: 'O banco de dados está indisponível no momento.', instance: '/consultas/agendar',
    });
    const bug = await request(throwing(new Error('segredo interno'))).post('/consultas/agendar');
    expect(bug.status).toBe(500);
    expect(bug.text).not.toContain('segredo');
    expect(bug.body).toMatchObject({ type: '/problemas/erro-interno', status: 500 });
  });

  it('when a task fails, then it shows the summary of its AppError, or a 500 that hides an unexpected error', () => {
    expect(problemSummary(affected())).toEqual({
      type: '/problemas/consultas-afetadas', title: 'Consultas agendadas seriam afetadas', status: 409,
      detail: 'A mudança deixaria 1 consulta(s) futura(s) fora dos horários.',
    });
    expect(problemSummary(new Error('segredo interno'))).toEqual({
      type: '/problemas/erro-interno', title: 'Erro interno', status: 500, detail: 'A tarefa falhou por um erro inesperado.',
    });
  });

  it("when Node's parser refuses headers over 16 kB, then the raw answer is the 431 problem, byte for byte", async () => {
    const answer = await rawAnswer(`GET / HTTP/1.1\r\nHost: x\r\nX-Grande: ${'a'.repeat(20_000)}\r\n\r\n`);
    const body =
      '{"type":"/problemas/cabecalho-grande-demais","title":"Cabeçalhos grandes demais","status":431,' +
      '"detail":"A URL ou os cabeçalhos passam do limite (16 kB).","instance":"/"}';
    expect(answer).toBe(
      'HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: application/problem+json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });

  it('when the request line is not HTTP, then the raw answer is the 400 problem', async () => {
    const answer = await rawAnswer('isto não é HTTP\r\n\r\n');
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
      type: '/problemas/requisicao-malformada', title: 'Requisição HTTP malformada', status: 400, detail: 'A requisição HTTP não pôde ser lida.', instance: '/',
    });
  });

  it('when the web app was not built, then / answers its 503 problem without instance, as before', async () => {
    const res = await request(express().use(webApp(tempDir()))).get('/');
    expect(res.status).toBe(503);
    expect(res.text).toBe(
      '{"type":"/problemas/app-web-ausente","title":"Aplicativo web não compilado","status":503,' +
        '"detail":"O aplicativo web não foi compilado neste servidor. Rode `npm run build` e reinicie o servidor."}',
    );
  });
});
