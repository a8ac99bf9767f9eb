import { describe, expect, it } from 'vitest';
import { FileStore } from '../../src/infra/storage/json/file-store.js';
import { ALL_COLLECTIONS } from '../../src/repositories/collections.js';
import { medicoBody, pacienteBody } from '../helpers/app.js';
import { silentLogger } from '../helpers/logger.js';
import { CPFS } from '../helpers/scheduling.js';
import { authedFetch, startServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const post = (url: string, body: unknown) =>
  authedFetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** A Monday four to five weeks ahead of the real clock (the servers run on it), inside the booking horizon. */
function mondayAhead(): string {
  const d = new Date(Date.now() + 28 * 86_400_000);
  d.setUTCDate(d.getUTCDate() + ((8 - d.getUTCDay()) % 7));
  return d.toISOString().slice(0, 10);
}

describe('encaixes with two server processes on one data directory', () => {
  it('when 144 encaixes race for one médico and day across both, then exactly maxEncaixesDia book and the rest are 422', async () => {
    const dataDir = tempDir();
    // National holidays off: the race must not depend on which Monday the calendar gives.
    const env = { DATA_DIR: dataDir, FERIADOS_NACIONAIS: 'false' };
    const [a, b] = await Promise.all([startServer(env), startServer(env)]);
    const monday = mondayAhead();
    const MAX = 3;
    try {
      const medico = (await (await post(`${a.url}/medicos`, medicoBody({ maxEncaixesDia: MAX }))).json()) as { id: string };
      const pacientes: string[] = [];
      for (const cpf of CPFS) pacientes.push(((await (await post(`${b.url}/pacientes`, pacienteBody({ cpf }))).json()) as { id: string }).id);
      // 24 starts × 6 pacientes, none overlapping another of the same paciente: only the daily limit can refuse them.
      const starts = Array.from({ length: 24 }, (_, i) => {
        const minutes = (i < 12 ? 8 * 60 : 14 * 60) + (i % 12) * 20;
        return `${monday}T${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}:00-03:00`;
      });
      const requests = starts.flatMap((inicio) => pacientes.map((pacienteId) => ({ medicoId: medico.id, pacienteId, inicio, encaixe: true })));
      const results = await Promise.all(requests.map((body, i) => post(`${i % 2 ? a.url : b.url}/consultas/agendar`, body)));
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 201)).toHaveLength(MAX);
      expect(statuses.filter((s) => s === 422)).toHaveLength(requests.length - MAX);
      // Each server then refuses one more, whichever made the bookings.
      for (const server of [a, b]) {
        const more = await post(`${server.url}/consultas/agendar`, { medicoId: medico.id, pacienteId: pacientes[0], inicio: `${monday}T17:45:00-03:00`, encaixe: true });
        expect(more.status).toBe(422);
      }
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    const disk = new FileStore({ dir: dataDir, collections: ALL_COLLECTIONS, logger: silentLogger });
    await disk.open();
    const encaixes = [...disk.values<{ id: string; encaixe?: boolean; status: string }>('consultas')].filter((c) => c.encaixe === true && c.status !== 'cancelada');
    expect(encaixes).toHaveLength(MAX);
    await disk.close();
  }, 60_000);
});
