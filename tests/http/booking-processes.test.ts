import { describe, expect, it } from 'vitest';
import { FileStore } from '../../src/infra/storage/json/file-store.js';
import { ALL_COLLECTIONS } from '../../src/repositories/collections.js';
import { medicoBody, pacienteBody } from '../helpers/app.js';
import { silentLogger } from '../helpers/logger.js';
import { CPFS } from '../helpers/scheduling.js';
import { startServer, authedFetch, tokenFor } from '../helpers/server.js';
import { openStream } from '../helpers/sse.js';
import { tempDir } from '../helpers/tmp.js';

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  authedFetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

// The servers run on the real clock: book a Monday well ahead.
const MONDAY = '2030-01-07';

describe('booking with two server processes on one data directory', () => {
  it('when 200 requests for one slot are split between them, then one 201, 199 × 409, one agendada on disk, and both see it', async () => {
    const dataDir = tempDir();
    const [a, b] = await Promise.all([startServer({ DATA_DIR: dataDir }), startServer({ DATA_DIR: dataDir })]);
    try {
      const medico = (await (await post(`${a.url}/medicos`, medicoBody())).json()) as { id: string };
      const pacientes: string[] = [];
      for (const cpf of CPFS) {
        pacientes.push(((await (await post(`${b.url}/pacientes`, pacienteBody({ cpf }))).json()) as { id: string }).id);
      }
      const streamB = await openStream(`${b.url}/sistema/agenda/stream`, { authorization: `Bearer ${await tokenFor(b.url)}` });
      const inicio = `${MONDAY}T10:00:00-03:00`;
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          post(`${i % 2 ? a.url : b.url}/consultas/agendar`, { medicoId: medico.id, pacienteId: pacientes[i % pacientes.length], inicio }),
        ),
      );
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      expect(statuses.filter((s) => s === 409)).toHaveLength(199);

      // Each server sees the booking, whichever made it: in the agenda, in the list, and on B's event stream.
      for (const server of [a, b]) {
        const agenda = (await (await authedFetch(`${server.url}/medicos/${medico.id}/agenda?data=${MONDAY}`)).json()) as {
          slots: { inicio: string; estado: string }[];
        };
        expect(agenda.slots.find((s) => s.inicio === inicio)!.estado).toBe('ocupado');
        const list = (await (await authedFetch(`${server.url}/consultas?medicoId=${medico.id}`)).json()) as { total: number };
        expect(list.total).toBe(1);
      }
      await streamB.until(() => streamB.messages.some((m) => m.event === 'horario_ocupado'));
      streamB.close();

      // More pressure on the cross-process path: six slots at once, 50 requests each, split between servers.
      const times = ['08:00', '08:30', '09:00', '09:30', '10:30', '11:00'].map((t) => `${MONDAY}T${t}:00-03:00`);
      const round = await Promise.all(
        times.flatMap((t, k) =>
          Array.from({ length: 50 }, (_, i) =>
            post(`${i % 2 ? a.url : b.url}/consultas/agendar`, { medicoId: medico.id, pacienteId: pacientes[k], inicio: t }),
          ),
        ),
      );
      const byStatus = round.map((r) => r.status);
      expect(byStatus.filter((st) => st === 201)).toHaveLength(times.length);
      expect(byStatus.filter((st) => st === 409)).toHaveLength(times.length * 49);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    const disk = new FileStore({ dir: dataDir, collections: ALL_COLLECTIONS, logger: silentLogger });
    await disk.open();
    expect([...disk.values<{ id: string; status: string }>('consultas')].filter((c) => c.status === 'agendada')).toHaveLength(7);
    await disk.close();
  }, 60_000);

  it('when the server restarts, then an Idempotency-Key still books once', async () => {
    const dataDir = tempDir();
    const first = await startServer({ DATA_DIR: dataDir });
    const medico = (await (await post(`${first.url}/medicos`, medicoBody())).json()) as { id: string };
    const paciente = (await (await post(`${first.url}/pacientes`, pacienteBody())).json()) as { id: string };
    const body = { medicoId: medico.id, pacienteId: paciente.id, inicio: `${MONDAY}T08:00:00-03:00` };
    const created = await post(`${first.url}/consultas/agendar`, body, { 'Idempotency-Key': 'retry-after-crash' });
    expect(created.status).toBe(201);
    const consulta = await created.json();
    await first.stop('SIGKILL'); // no clean shutdown: the key must already be durable
    const second = await startServer({ DATA_DIR: dataDir, LOCK_STALE_MS: '2000' });
    try {
      const again = await post(`${second.url}/consultas/agendar`, body, { 'Idempotency-Key': 'retry-after-crash' });
      expect(again.status).toBe(201);
      expect(await again.json()).toEqual(consulta);
      const list = (await (await authedFetch(`${second.url}/consultas`)).json()) as { total: number };
      expect(list.total).toBe(1);
    } finally {
      await second.stop();
    }
  }, 60_000);
});
