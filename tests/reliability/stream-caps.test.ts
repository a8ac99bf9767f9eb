import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { createContainer } from '../../src/composition.js';
import { ManualClock } from '../../src/core/clock.js';
import { loadConfig } from '../../src/core/config.js';
import { LogBuffer, createLogger } from '../../src/core/logger.js';
import { LOG_STREAM_MAX_CLIENTS } from '../../src/infra/log-stream.js';
import { tokenId } from '../../src/services/auth.service.js';
import { TEST_NOW, bearer, makeApp, signIn } from '../helpers/app.js';
import { listen, openStream } from '../helpers/sse.js';
import { tempDir } from '../helpers/tmp.js';

type Stream = Awaited<ReturnType<typeof openStream>>;

/** Opens `n` streams and waits until each has its opening `retry:`. */
async function openMany(url: string, n: number, headers: Record<string, string> = {}): Promise<Stream[]> {
  const streams = await Promise.all(Array.from({ length: n }, () => openStream(url, headers)));
  for (const s of streams) {
    expect(s.response.status).toBe(200);
    await s.until(() => s.retry !== undefined);
  }
  return streams;
}


describe('agenda stream caps', () => {
  it('when SSE_MAX_CLIENTS streams are open, then one more gets 503 limite-de-conexoes with Retry-After, and a freed place is given again', async () => {
    const t = await makeApp({ env: { SSE_MAX_CLIENTS: '5' } });
    const server = await listen(t.app);
    const url = `${server.url}/sistema/agenda/stream`;
    const streams = await openMany(url, 5);

    const refused = await fetch(url, { headers: { accept: 'text/event-stream' } });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await refused.json()).toMatchObject({ type: '/problemas/limite-de-conexoes', status: 503, detail: expect.any(String) });
    expect(t.container.agendaBroker.clientCount).toBe(5);

    streams[0]!.close();
    await expect.poll(() => t.container.agendaBroker.clientCount).toBe(4);
    const again = await openStream(url);
    expect(again.response.status).toBe(200);
    for (const s of [...streams, again]) s.close();
    await server.close();
  });

  it('when one session holds its streams, then one more gets 429 muitas-conexoes while another session still connects', async () => {
    const t = await makeApp({ env: { SSE_MAX_CLIENTS: '50', SSE_MAX_PER_SESSION: '3' } });
    const server = await listen(t.app);
    const url = `${server.url}/sistema/agenda/stream`;
    const streams = await openMany(url, 3);

    const refused = await fetch(url, { headers: { accept: 'text/event-stream' } });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await refused.json()).toMatchObject({ type: '/problemas/muitas-conexoes', status: 429 });

    const { token } = await signIn(t.container, 'recepcao');
    const [other] = await openMany(url, 1, bearer(token));
    const adminSession = tokenId(t.adminToken);
    expect(t.container.agendaBroker.ownerCount(adminSession)).toBe(3);
    expect(t.container.agendaBroker.ownerCount(tokenId(token))).toBe(1);

    // Closing streams gives the places back, however they end.
    for (const s of streams) s.close();
    other!.close();
    await expect.poll(() => t.container.agendaBroker.clientCount).toBe(0);
    expect(t.container.agendaBroker.ownerCount(adminSession)).toBe(0);
    const again = await openMany(url, 3);
    for (const s of again) s.close();
    await server.close();
  });

  it('when one user opens streams from session after session, then past SSE_MAX_PER_USER one more gets 429 naming the user, while another user still connects', async () => {
    const t = await makeApp({ env: { SSE_MAX_CLIENTS: '50', SSE_MAX_PER_SESSION: '2', SSE_MAX_PER_USER: '3' } });
    const server = await listen(t.app);
    const url = `${server.url}/sistema/agenda/stream`;
    const { token, usuarioId } = await signIn(t.container, 'recepcao');
    // Signing in again gives the same user another session (as a second login would).
    const again = randomBytes(32).toString('base64url');
    const now = t.container.clock.now();
    await t.container.storage.run((tx) => tx.sessoes.save({ id: tokenId(again), usuarioId, criadaEm: now.toISOString(), usadaEm: now.getTime() }));

    const first = await openMany(url, 2, bearer(token));
    const [third] = await openMany(url, 1, bearer(again));
    expect(t.container.agendaBroker.userCount(usuarioId)).toBe(3);
    // The second session holds one stream, under its own cap of 2: the user's cap of 3 refuses it.
    const refused = await fetch(url, { headers: bearer(again) });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await refused.json()).toMatchObject({ type: '/problemas/muitas-conexoes', status: 429, detail: expect.stringMatching(/usuário/) });

    const other = await signIn(t.container, 'recepcao');
    const [theirs] = await openMany(url, 1, bearer(other.token));

    // A place given back is the user's again.
    third!.close();
    await expect.poll(() => t.container.agendaBroker.userCount(usuarioId)).toBe(2);
    const [back] = await openMany(url, 1, bearer(again));
    for (const s of [...first, back!, theirs!]) s.close();
    await expect.poll(() => t.container.agendaBroker.clientCount).toBe(0);
    expect(t.container.agendaBroker.userCount(usuarioId)).toBe(0);
    await server.close();
  });

  it('when the per-session cap is the default, then it is the contract’s 20', async () => {
    const t = await makeApp({ env: { SSE_MAX_CLIENTS: '100' } });
    const server = await listen(t.app);
    const url = `${server.url}/sistema/agenda/stream`;
    const streams = await openMany(url, 20);
    expect((await fetch(url)).status).toBe(429);
    for (const s of streams) s.close();
    await server.close();
  });
});

/** An app whose logger is real, so requests produce log lines that feed the log stream. */
async function loggedApp() {
  const buffer = new LogBuffer(500);
  const sink = new Writable({ write: (_chunk, _enc, cb) => cb() });
  const logger = await createLogger({ level: 'info', pretty: false, buffer, destination: sink as never });
  const dataDir = tempDir();
  const config = loadConfig({ DATA_DIR: dataDir, BACKUP_DIR: `${dataDir}/b`, REPORTS_DIR: `${dataDir}/r`, SEED: 'false' });
  const container = await createContainer(config, { logger, logBuffer: buffer, clock: new ManualClock(TEST_NOW) });
  const { token } = await signIn(container, 'admin');
  return { app: createApp(container), container, auth: bearer(token) };
}

describe('log stream', () => {
  it(`when ${LOG_STREAM_MAX_CLIENTS} clients follow the log, then one more gets 503; a burst of requests completes and every client receives its log events`, async () => {
    const { app, container, auth } = await loggedApp();
    const server = await listen(app);
    const url = `${server.url}/sistema/logs/stream`;
    const streams = await openMany(url, LOG_STREAM_MAX_CLIENTS, auth);

    const refused = await fetch(url, { headers: auth });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await refused.json()).toMatchObject({ type: '/problemas/limite-de-conexoes' });

    const BURST = 500;
    const answers = await Promise.all(Array.from({ length: BURST }, (_, i) => fetch(`${server.url}/health?n=${i}`)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const healthLines = (s: Stream) => s.messages.filter((m) => m.event === 'log' && JSON.parse(m.data).path === '/health').length;
    for (const s of streams) await s.until(() => healthLines(s) === BURST, 10_000);
    // Ids stay strictly increasing inside batches, so Last-Event-ID replay still works.
    const ids = streams[0]!.messages.map((m) => Number(m.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);

    for (const s of streams) s.close();
    await server.close();
    await container.close();
  }, 30_000);

  it('when a log client stops reading, then it misses entries instead of being buffered for, and a reading client gets them all', async () => {
    const { app, container, auth } = await loggedApp();
    const broker = container.logsBroker;
    const server = await listen(app);
    const [reader] = await openMany(`${server.url}/sistema/logs/stream`, 1, auth);
    const stalled = connect({ host: '127.0.0.1', port: Number(new URL(server.url).port) });
    stalled.pause(); // never reads
    stalled.write(`GET /sistema/logs/stream HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth.Authorization}\r\n\r\n`);
    await expect.poll(() => broker.clientCount).toBe(2);

    const texto = 'x'.repeat(2048);
    let n = 0;
    while (broker.skippedCount === 0 && n < 50_000) {
      for (let i = 0; i < 200; i++, n++) container.logger.info({ texto, n }, 'volume');
      await new Promise((resolve) => setTimeout(resolve, 120)); // the attack's pace, not a wait for our work
    }
    expect(broker.skippedCount).toBeGreaterThan(0);
    expect(broker.clientCount).toBe(2); // still connected: it lost entries, not its stream
    expect(broker.droppedCount).toBe(0);
    const volume = () => reader!.messages.filter((m) => m.event === 'log' && JSON.parse(m.data).msg === 'volume').length;
    await reader!.until(() => volume() === n, 20_000);

    stalled.destroy();
    reader!.close();
    await server.close();
    await container.close();
  }, 60_000);

  it('when a log line is written, then it reaches clients later, batched, not inside the call that logged it', async () => {
    const { app, container, auth } = await loggedApp();
    const server = await listen(app);
    const [stream] = await openMany(`${server.url}/sistema/logs/stream`, 1, auth);
    const writes: number[] = [];
    const publishAll = container.logsBroker.publishAll.bind(container.logsBroker);
    container.logsBroker.publishAll = (events, topic) => (writes.push(events.length), publishAll(events, topic));
    const publish = container.logsBroker.publish.bind(container.logsBroker);
    container.logsBroker.publish = (event, data, topic) => (writes.push(1), publish(event, data, topic));

    for (let i = 0; i < 100; i++) container.logger.info({ n: i }, 'linha de teste');
    expect(writes).toEqual([]); // nothing was sent on the logging call's path
    await stream!.until(() => stream!.messages.filter((m) => JSON.parse(m.data).msg === 'linha de teste').length === 100);
    expect(writes.length).toBeLessThan(10); // a few batches, not one write per line
    stream!.close();
    await server.close();
    await container.close();
  });
});
