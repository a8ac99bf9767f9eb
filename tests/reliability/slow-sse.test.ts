import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { makeApp } from '../helpers/app.js';
import { at, clinic } from '../helpers/scheduling.js';
import { listen, openStream } from '../helpers/sse.js';

describe('slow SSE clients', () => {
  it('when 200 clients never read, then they are dropped, memory stays bounded and normal clients keep receiving', async () => {
    // 202 streams from one client: above the per-session (20) and per-user (60) caps, which are not what this test is about.
    const t = await makeApp({ env: { SSE_MAX_PER_SESSION: '1000', SSE_MAX_PER_USER: '1000' } });
    const { medicoId, pacienteId } = await clinic(t.app);
    const server = await listen(t.app);
    const broker = t.container.agendaBroker;
    const normal = [await openStream(`${server.url}/sistema/agenda/stream`), await openStream(`${server.url}/sistema/agenda/stream`)];
    const port = Number(new URL(server.url).port);
    const stalled: Socket[] = [];
    for (let i = 0; i < 200; i++) {
      const socket = connect({ host: '127.0.0.1', port });
      socket.pause(); // never reads
      socket.write('GET /sistema/agenda/stream HTTP/1.1\r\nHost: x\r\n\r\n');
      stalled.push(socket);
    }
    await expect.poll(() => broker.clientCount, { timeout: 10_000 }).toBe(202);

    global.gc?.();
    const before = process.memoryUsage().rss;
    const payload = { texto: 'x'.repeat(4096) };
    let published = 0;
    while (broker.droppedCount < 200 && published < 40_000) {
      for (let i = 0; i < 20; i++, published++) broker.publish('teste', { ...payload, n: published });
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(broker.droppedCount).toBe(200);
    expect(broker.clientCount).toBe(2);
    // Each stalled client could hold at most the bound (256 kB) in user space before being dropped.
    expect(process.memoryUsage().rss - before).toBeLessThan(250 * 1024 * 1024);

    for (const stream of normal) await stream.until(() => stream.messages.length === published, 20_000);
    const res = await fetch(`${server.url}/consultas/agendar`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ medicoId, pacienteId, inicio: at('08:00') }),
    });
    expect(res.status).toBe(201);
    for (const stream of normal) await stream.until(() => stream.messages.some((m) => m.event === 'horario_ocupado'));
    for (const socket of stalled) socket.destroy();
    for (const stream of normal) stream.close();
    await server.close();
  }, 60_000);
});
