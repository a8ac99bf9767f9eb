import { connect } from 'node:net';
import { EventSource } from 'eventsource';
import { describe, expect, it } from 'vitest';
import type { StorageFs } from '../../src/infra/storage/json/file-store.js';
import { makeApp } from '../helpers/app.js';
import { faultyFs } from '../helpers/faults.js';
import { at, clinic } from '../helpers/scheduling.js';
import { listen, openStream } from '../helpers/sse.js';

const post = (url: string, body: unknown) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function served(env: Record<string, string> = {}, fs?: StorageFs) {
  const t = await makeApp({ env, ...(fs ? { fs } : {}) });
  const { medicos, pacientes } = await clinic(t.app, { medicos: 2, pacientes: 2 });
  const server = await listen(t.app);
  return { ...t, ...server, medicos, pacientes };
}

describe('GET /sistema/agenda/stream', () => {
  it('when a booking succeeds, then an EventSource sees horario_reservado then horario_ocupado, without patient data', async () => {
    const s = await served();
    const source = new EventSource(`${s.url}/sistema/agenda/stream`);
    const seen: { type: string; id: string; data: Record<string, unknown> }[] = [];
    for (const type of ['horario_reservado', 'horario_ocupado', 'horario_disponivel']) {
      source.addEventListener(type, (e) => seen.push({ type, id: e.lastEventId, data: JSON.parse(e.data) }));
    }
    await new Promise<void>((resolve) => (source.onopen = () => resolve()));
    const res = await post(`${s.url}/consultas/agendar`, { medicoId: s.medicos[0], pacienteId: s.pacientes[0], inicio: at('08:00') });
    expect(res.status).toBe(201);
    const consulta = (await res.json()) as { id: string };
    await expect.poll(() => seen.length).toBe(2);
    source.close();
    expect(seen.map((e) => e.type)).toEqual(['horario_reservado', 'horario_ocupado']);
    expect(Number(seen[1]!.id)).toBeGreaterThan(Number(seen[0]!.id));
    expect(seen[0]!.data).toEqual({ medicoId: s.medicos[0], inicio: at('08:00'), fim: at('08:30'), estado: 'reservado' });
    expect(seen[1]!.data).toEqual({ medicoId: s.medicos[0], inicio: at('08:00'), fim: at('08:30'), estado: 'ocupado', consultaId: consulta.id });
    await s.close();
  });

  it('when the stream opens, then it has the contract headers and starts with retry: 3000', async () => {
    const s = await served();
    const stream = await openStream(`${s.url}/sistema/agenda/stream`);
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(stream.response.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(stream.response.headers.get('x-accel-buffering')).toBe('no');
    expect(stream.response.headers.get('content-encoding')).toBeNull();
    await stream.until(() => stream.retry !== undefined);
    expect(stream.retry).toBe(3000);
    stream.close();
    await s.close();
  });

  it('when a booking fails after the reservation, then horario_reservado is followed by horario_disponivel', async () => {
    const { fs, control } = faultyFs('EIO');
    const s = await served({}, fs);
    const stream = await openStream(`${s.url}/sistema/agenda/stream`);
    control.failing = true;
    const res = await post(`${s.url}/consultas/agendar`, { medicoId: s.medicos[0], pacienteId: s.pacientes[0], inicio: at('08:00') });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { type: string }).type).toBe('/problemas/armazenamento-indisponivel');
    await stream.until(() => stream.messages.length >= 2);
    expect(stream.messages.map((m) => m.event)).toEqual(['horario_reservado', 'horario_disponivel']);
    control.failing = false;
    // Service resumes when the fault clears.
    const retry = await post(`${s.url}/consultas/agendar`, { medicoId: s.medicos[0], pacienteId: s.pacientes[0], inicio: at('08:00') });
    expect(retry.status).toBe(201);
    stream.close();
    await s.close();
  });

  it('when a client reconnects with Last-Event-ID, then it gets every later event; with ?lastEventId too', async () => {
    const s = await served();
    const first = await openStream(`${s.url}/sistema/agenda/stream`);
    await post(`${s.url}/consultas/agendar`, { medicoId: s.medicos[0], pacienteId: s.pacientes[0], inicio: at('08:00') });
    await first.until(() => first.messages.length === 2);
    const lastSeen = first.messages[1]!.id!;
    first.close();
    // Missed while away:
    await post(`${s.url}/consultas/agendar`, { medicoId: s.medicos[0], pacienteId: s.pacientes[0], inicio: at('09:00') });
    await post(`${s.url}/consultas/agendar`, { medicoId: s.medicos[1], pacienteId: s.pacientes[1], inicio: at('09:00') });

    const back = await openStream(`${s.url}/sistema/agenda/stream`, { 'Last-Event-ID': lastSeen });
    await back.until(() => back.messages.length === 4);
    expect(back.messages.map((m) => `${m.event} ${JSON.parse(m.data).inicio.slice(11, 16)}`)).toEqual([
      'horario_reservado 09:00', 'horario_ocupado 09:00', 'horario_reservado 09:00', 'horario_ocupado 09:00',
    ]);
    expect(back.messages.every((m) => Number(m.id) > Number(lastSeen))).toBe(true);
    back.close();

    const viaQuery = await openStream(`${s.url}/sistema/agenda/stream?lastEventId=${lastSeen}&medicoId=${s.medicos[1]}`);
    await viaQuery.until(() => viaQuery.messages.length === 2);
    expect(viaQuery.messages.map((m) => JSON.parse(m.data).medicoId)).toEqual([s.medicos[1], s.medicos[1]]);
    viaQuery.close();
    await s.close();
  });

  it('when the Last-Event-ID is older than the replay buffer, then the client is told to resync', async () => {
    const s = await served({ SSE_REPLAY: '3' });
    const first = await openStream(`${s.url}/sistema/agenda/stream`);
    await post(`${s.url}/consultas/agendar`, { medicoId: s.medicos[0], pacienteId: s.pacientes[0], inicio: at('08:00') });
    await first.until(() => first.messages.length === 2);
    first.close();
    for (const time of ['09:00', '10:00']) {
      await post(`${s.url}/consultas/agendar`, { medicoId: s.medicos[0], pacienteId: s.pacientes[0], inicio: at(time) });
    }
    const old = await openStream(`${s.url}/sistema/agenda/stream`, { 'Last-Event-ID': first.messages[0]!.id! });
    await old.until(() => old.messages.length >= 1);
    expect(old.messages[0]!.event).toBe('resync');
    old.close();
    const foreign = await openStream(`${s.url}/sistema/agenda/stream`, { 'Last-Event-ID': 'not-a-number' });
    await foreign.until(() => foreign.messages.length >= 1);
    expect(foreign.messages[0]!.event).toBe('resync');
    foreign.close();
    await s.close();
  });

  it('when filtered by medicoId, then only that médico\'s events arrive', async () => {
    const s = await served();
    const onlyB = await openStream(`${s.url}/sistema/agenda/stream?medicoId=${s.medicos[1]}`);
    const all = await openStream(`${s.url}/sistema/agenda/stream`);
    await post(`${s.url}/consultas/agendar`, { medicoId: s.medicos[0], pacienteId: s.pacientes[0], inicio: at('08:00') });
    await post(`${s.url}/consultas/agendar`, { medicoId: s.medicos[1], pacienteId: s.pacientes[1], inicio: at('08:00') });
    await all.until(() => all.messages.length === 4);
    await onlyB.until(() => onlyB.messages.length === 2);
    expect(onlyB.messages.every((m) => JSON.parse(m.data).medicoId === s.medicos[1])).toBe(true);
    all.close();
    onlyB.close();
    await s.close();
  });

  it('when idle, then a ": ping" comment arrives every SSE_HEARTBEAT_MS', async () => {
    const s = await served({ SSE_HEARTBEAT_MS: '100' });
    const stream = await openStream(`${s.url}/sistema/agenda/stream`);
    await stream.until(() => stream.comments.filter((c) => c === 'ping').length >= 2);
    stream.close();
    await s.close();
  });

  it('when a client stops reading, then it is dropped, memory stays bounded and others keep receiving', async () => {
    const s = await served();
    const broker = s.container.agendaBroker;
    const normal = await openStream(`${s.url}/sistema/agenda/stream`);
    // A client that sends its request and then never reads a byte.
    const stalled = connect({ host: '127.0.0.1', port: Number(new URL(s.url).port) });
    stalled.pause();
    stalled.write('GET /sistema/agenda/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n');
    await expect.poll(() => broker.clientCount).toBe(2);

    const before = process.memoryUsage().rss;
    const big = 'x'.repeat(4 * 1024);
    let published = 0;
    // Far more than the socket buffers can hold, published in steps so the normal client can drain.
    while (broker.droppedCount === 0 && published < 10_000) {
      for (let i = 0; i < 20; i++, published++) broker.publish('teste', { big, n: published });
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(broker.droppedCount).toBe(1);
    expect(broker.clientCount).toBe(1);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
    await normal.until(() => normal.messages.length === published, 10_000);
    // Still delivering after the drop:
    await post(`${s.url}/consultas/agendar`, { medicoId: s.medicos[0], pacienteId: s.pacientes[0], inicio: at('08:00') });
    await normal.until(() => normal.messages.some((m) => m.event === 'horario_ocupado'));
    stalled.destroy();
    normal.close();
    await s.close();
  }, 30_000);
});

describe('GET /sistema/agenda/stream?medicoId= that names no médico', () => {
  it('when the médico does not exist, then 404 problem at once; when the id is malformed, then 400 naming medicoId', async () => {
    const s = await served();
    // fetch resolves on the head: a stream that opened instead would show as 200 here, not as a hang.
    const open = (query: string) => fetch(`${s.url}/sistema/agenda/stream?${query}`, { headers: { accept: 'text/event-stream' } });

    const unknown = await open('medicoId=00000000-0000-4000-8000-000000000000');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await unknown.json()).toMatchObject({ type: '/problemas/nao-encontrado', status: 404, detail: 'Médico não encontrado.' });

    const malformed = await open('medicoId=nao-e-um-id');
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ type: '/problemas/validacao', errors: [{ path: 'medicoId' }] });

    const known = await open(`medicoId=${s.medicos[0]}`);
    expect(known.status).toBe(200);
    await known.body?.cancel();
    await s.close();
  });
});
