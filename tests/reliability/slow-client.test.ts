import { execFileSync } from 'node:child_process';
import type { Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectionCap, descriptorLimit } from '../../src/http/connection-limit.js';
import { createHttpServer } from '../../src/http/http-server.js';
import { makeApp } from '../helpers/app.js';
import { openStream } from '../helpers/sse.js';

/** Serves the test app with short timeouts, so a slow client shows in a second or two. */
async function serve(options: Parameters<typeof createHttpServer>[1], env: Record<string, string> = {}) {
  const t = await makeApp({ storage: 'memory', env });
  const server = createHttpServer(t.app, options).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return { t, server, port, url: `http://127.0.0.1:${port}` };
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/**
 * A client that sends `head` and then `trickle` one byte every `everyMs` (the attack), collecting what the
 * server answers until it closes the connection.
 */
function trickle(port: number, head: string, trickleText: string, everyMs: number) {
  const socket: Socket = connect({ host: '127.0.0.1', port });
  let answer = '';
  socket.on('data', (chunk) => (answer += chunk.toString()));
  socket.on('error', () => {});
  const started = Date.now();
  let i = 0;
  socket.write(head);
  const timer = setInterval(() => {
    if (socket.destroyed || socket.writableEnded) return;
    socket.write(trickleText[i++ % trickleText.length]!);
  }, everyMs);
  const closed = new Promise<{ answer: string; ms: number }>((resolve) =>
    socket.once('close', () => {
      clearInterval(timer);
      resolve({ answer, ms: Date.now() - started });
    }),
  );
  return { closed, socket };
}

describe('slow clients', () => {
  it('when a client sends its headers one byte at a time, then it gets 408 problem+json and is disconnected within seconds', async () => {
    const { server, port } = await serve({ headersTimeoutMs: 1000, requestTimeoutMs: 2000 });
    const { closed } = trickle(port, 'GET /health HTTP/1.1\r\nHost: x\r\n', 'X-Lento: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 200);
    const { answer, ms } = await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toMatch(/application\/problem\+json/);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ type: '/problemas/tempo-esgotado', status: 408 });
    expect(ms).toBeLessThan(4000);
    await stop(server);
  });

  it('when a client sends its body one byte at a time, then it gets 408 and is disconnected, and nothing is stored', async () => {
    const { server, port, t } = await serve({ headersTimeoutMs: 1000, requestTimeoutMs: 1500 });
    const body = JSON.stringify({ nome: 'Lento', cpf: '52998224725', dataNascimento: '1990-01-01' });
    const head = `POST /pacientes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const { closed } = trickle(port, head, body, 200);
    const { answer, ms } = await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(ms).toBeLessThan(5000);
    expect(t.container.store!.count('pacientes')).toBe(0);
    // The server is fine afterwards.
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    await stop(server);
  });

  it('when the defaults apply, then headers and whole requests time out in seconds, not Node’s minutes', async () => {
    const { server } = await serve(undefined);
    expect(server.headersTimeout).toBe(10_000);
    expect(server.requestTimeout).toBe(30_000);
    await stop(server);
  });

  it('when an event stream stays open longer than the request timeout, then it is not cut: the timeout covers only receiving the request', async () => {
    const { server, url } = await serve({ headersTimeoutMs: 300, requestTimeoutMs: 300 }, { SSE_HEARTBEAT_MS: '100' });
    const stream = await openStream(`${url}/sistema/agenda/stream`);
    const opened = Date.now();
    // Heartbeats are the signal: 15 of them span five times the timeout.
    await stream.until(() => stream.comments.filter((c) => c === 'ping').length >= 15, 10_000);
    expect(Date.now() - opened).toBeGreaterThan(1000);
    expect(stream.ended).toBe(false);
    stream.close();
    await stop(server);
  });
});

describe('connection cap', () => {
  it('when the cap is reached, then further connections are closed unanswered, and freed places are given again', async () => {
    const { server, url } = await serve({ maxConnections: 3 }, { SSE_MAX_PER_SESSION: '100' });
    const streams = await Promise.all([0, 1, 2].map(() => openStream(`${url}/sistema/agenda/stream`)));
    await expect(fetch(`${url}/health`)).rejects.toThrow();
    streams[0]!.close();
    await expect.poll(async () => (await fetch(`${url}/health`).then((r) => r.status, () => 0)), { timeout: 5000 }).toBe(200);
    for (const s of streams) s.close();
    await stop(server);
  });

  it('when no cap is given, then it is the descriptor limit minus the reserve kept for storage', async () => {
    const limit = descriptorLimit();
    if (process.platform !== 'win32') {
      // What the shell (a child with our limits) reports is what we read.
      const shell = execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
      expect(limit).toBe(shell === 'unlimited' ? undefined : Number(shell));
    }
    const { server } = await serve(undefined);
    expect(server.maxConnections).toBe(connectionCap(limit));
    if (limit !== undefined) expect(server.maxConnections).toBeLessThan(limit);
    await stop(server);
  });

  it.each([
    [20_000, 19_744],
    [1024, 768],
    [256, 192],
    [undefined, 4096],
  ])('when the descriptor limit is %s, then the cap is %s', (limit, cap) => {
    expect(connectionCap(limit)).toBe(cap);
  });
});
