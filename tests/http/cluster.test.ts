import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { medicoBody, pacienteBody } from '../helpers/app.js';
import { skipWithoutPostgres, startPostgres } from '../helpers/postgres.js';
import { CPFS } from '../helpers/scheduling.js';
import { authedFetch, startServer, tokenFor } from '../helpers/server.js';
import { openStream } from '../helpers/sse.js';
import { tempDir } from '../helpers/tmp.js';

const post = (url: string, body: unknown) =>
  authedFetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

const MONDAY = '2030-01-07';

/** GET on a connection of its own (no keep-alive pool), so the cluster's primary hands it to the next worker. */
function freshGet(url: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    // A connection nobody answers fails here, named, instead of as the test's timeout.
    req.setTimeout(10_000, () => req.destroy(new Error(`sem resposta em 10 s: ${url}`)));
    req.end();
  });
}

describe('several server processes behind one port (node:cluster)', () => {
  it('when three workers serve one data directory, then connections spread over them, a booking reaches every stream, one slot is booked once, and a killed worker is replaced', async () => {
    const server = await startServer({ DATA_DIR: tempDir(), WORKERS: '3' }, { cluster: true });
    try {
      // A worker's "servidor pronto" line may come a moment after the primary heard it listening.
      const readyLines = () => server.logs.filter((l) => l.msg === 'servidor pronto').map((l) => l.pid);
      for (const until = Date.now() + 10_000; readyLines().length < 3 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
      const ready = readyLines();
      expect(new Set(ready).size).toBe(3);
      const token = await tokenFor(server.url);

      // New connections go to the workers in turn.
      const pids = new Set<number>();
      for (let i = 0; i < 6; i++) {
        const res = await freshGet(`${server.url}/sistema/status`, token);
        expect(res.status).toBe(200);
        pids.add((JSON.parse(res.body) as { plataforma: { pid: number } }).plataforma.pid);
      }
      expect(pids.size).toBeGreaterThanOrEqual(2);

      const medico = (await (await post(`${server.url}/medicos`, medicoBody())).json()) as { id: string };
      const pacientes: string[] = [];
      for (const cpf of CPFS.slice(0, 4)) pacientes.push(((await (await post(`${server.url}/pacientes`, pacienteBody({ cpf }))).json()) as { id: string }).id);

      // Three streams: three connections, held by different workers.
      const streams = await Promise.all([0, 1, 2].map(() => openStream(`${server.url}/sistema/agenda/stream`, { authorization: `Bearer ${token}` })));
      const inicio = `${MONDAY}T10:00:00-03:00`;
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) => post(`${server.url}/consultas/agendar`, { medicoId: medico.id, pacienteId: pacientes[i % pacientes.length], inicio })),
      );
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      expect(statuses.filter((s) => s === 409)).toHaveLength(59);
      for (const stream of streams) {
        await stream.until(() => stream.messages.some((m) => m.event === 'horario_ocupado' && (JSON.parse(m.data) as { inicio: string }).inicio === inicio));
        stream.close();
      }

      // kill -9 of one worker: the others keep answering, and the primary starts a new one.
      const victim = ready[0] as number;
      process.kill(victim, 'SIGKILL');
      // Until the primary has seen the exit, it may still hand a new connection to the dead worker (the kernel's
      // race, not the server's): the promise is about the workers that are left, once the death is known.
      for (const until = Date.now() + 10_000; !server.logs.some((l) => l.workerPid === victim) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
      expect(server.logs.some((l) => l.workerPid === victim)).toBe(true);
      for (let i = 0; i < 6; i++) expect((await freshGet(`${server.url}/health`, token)).status).toBe(200);
      const deadline = Date.now() + 20_000;
      while (server.logs.filter((l) => l.msg === 'servidor pronto').length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const after = server.logs.filter((l) => l.msg === 'servidor pronto').map((l) => l.pid);
      expect(after).toHaveLength(4);
      expect(after.at(-1)).not.toBe(victim);
    } finally {
      await server.stop();
    }
  }, 120_000);
});

describe.skipIf(skipWithoutPostgres())('several server processes behind one port, on PostgreSQL', () => {
  it('when a booking is accepted with Prefer: respond-async, then its Location, polled on fresh connections (spread over the workers), always answers and reaches concluida', async () => {
    const postgres = await startPostgres();
    const server = await startServer({ DATA_DIR: tempDir(), WORKERS: '3', STORAGE: 'postgres', DATABASE_URL: postgres.url, FERIADOS_NACIONAIS: 'false' }, { cluster: true });
    try {
      const token = await tokenFor(server.url);
      const medico = (await (await post(`${server.url}/medicos`, medicoBody())).json()) as { id: string };
      const paciente = (await (await post(`${server.url}/pacientes`, pacienteBody({ cpf: CPFS[0] }))).json()) as { id: string };
      for (const [i, hora] of ['08:00', '09:00', '10:00'].entries()) {
        const res = await authedFetch(`${server.url}/consultas/agendar`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', prefer: 'respond-async' },
          body: JSON.stringify({ medicoId: medico.id, pacienteId: paciente.id, inicio: `${MONDAY}T${hora}:00-03:00` }),
        });
        expect(res.status, `agendamento ${i}`).toBe(202);
        const location = res.headers.get('location')!;
        // Every poll is a new connection, handed to the next worker: each must know the task, and all see it end.
        const statuses: string[] = [];
        for (let poll = 0; poll < 12 || statuses.at(-1) !== 'concluida'; poll++) {
          expect(poll, `tarefa ${location} não chegou a concluida: ${statuses.join(', ')}`).toBeLessThan(200);
          const answer = await freshGet(`${server.url}${location}`, token);
          expect(answer.status, `${location} → ${answer.status} ${answer.body}`).toBe(200);
          statuses.push((JSON.parse(answer.body) as { status: string }).status);
          if (statuses.at(-1) !== 'concluida') await new Promise((r) => setTimeout(r, 25));
        }
        // Once concluida on one worker, concluida on every one.
        expect(statuses.slice(statuses.indexOf('concluida'))).toEqual(statuses.slice(statuses.indexOf('concluida')).map(() => 'concluida'));
      }
    } finally {
      await server.stop();
      await postgres.stop();
    }
  }, 120_000);
});
