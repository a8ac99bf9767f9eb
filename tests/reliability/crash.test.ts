import { describe, expect, it } from 'vitest';
import { medicoBody, pacienteBody } from '../helpers/app.js';
import { CPFS } from '../helpers/scheduling.js';
import { startServer, type RunningServer, authedFetch } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const ROUNDS = 20;
const json = { 'content-type': 'application/json' };

/** The n-th bookable slot from 2031-01-02: 32 half-hour slots a day, 06:00–22:00 São Paulo time. */
function slot(n: number): string {
  const date = new Date(Date.UTC(2031, 0, 2 + Math.floor(n / 32)));
  const minutes = 6 * 60 + (n % 32) * 30;
  const hh = String(Math.floor(minutes / 60)).padStart(2, '0');
  const mm = String(minutes % 60).padStart(2, '0');
  return `${date.toISOString().slice(0, 10)}T${hh}:${mm}:00-03:00`;
}

describe('crash: kill -9 under booking load, 20 rounds', () => {
  it('when the server is killed at random moments, then every 201 survives, no slot is double-booked or left reservado, and keys still answer', async () => {
    const dataDir = tempDir();
    const env = { DATA_DIR: dataDir, LOCK_STALE_MS: '2000' };
    let server: RunningServer = await startServer(env);
    const medico = (await (await authedFetch(`${server.url}/medicos`, {
      method: 'POST', headers: json,
      body: JSON.stringify(medicoBody({ horarios: [0, 1, 2, 3, 4, 5, 6].map((d) => ({ diaSemana: d, inicio: '06:00', fim: '22:00' })) })),
    })).json()) as { id: string };
    const pacientes: string[] = [];
    for (const cpf of CPFS) {
      pacientes.push(((await (await authedFetch(`${server.url}/pacientes`, { method: 'POST', headers: json, body: JSON.stringify(pacienteBody({ cpf })) })).json()) as { id: string }).id);
    }

    const acked = new Map<string, { key: string; body: string }>(); // consulta id → how it was booked
    let next = 0;
    for (let round = 0; round < ROUNDS; round++) {
      let running = true;
      const url = server.url;
      const clients = Array.from({ length: 16 }, async () => {
        while (running) {
          const n = next++;
          const key = `crash-${n}`;
          const body = JSON.stringify({ medicoId: medico.id, pacienteId: pacientes[n % pacientes.length], inicio: slot(n) });
          try {
            const res = await authedFetch(`${url}/consultas/agendar`, { method: 'POST', headers: { ...json, 'Idempotency-Key': key }, body });
            if (res.status === 201) acked.set(((await res.json()) as { id: string }).id, { key, body });
          } catch {
            // the server died mid-request: this booking was never acknowledged
          }
        }
      });
      await new Promise((resolve) => setTimeout(resolve, 150 + Math.floor(Math.random() * 500)));
      const killed = server.stop('SIGKILL');
      running = false;
      expect((await killed).signal).toBe('SIGKILL');
      await Promise.all(clients);

      // Restart on the same directory: the data files load (or the start would fail) and the checks hold.
      server = await startServer(env);
      const all: { id: string; medicoId: string; inicio: string; status: string }[] = [];
      for (let offset = 0; ; offset += 500) {
        const page = (await (await authedFetch(`${server.url}/consultas?limit=500&offset=${offset}`)).json()) as { items: typeof all; total: number };
        all.push(...page.items);
        if (all.length >= page.total) break;
      }
      const ids = new Set(all.map((c) => c.id));
      expect([...acked.keys()].filter((id) => !ids.has(id)), `round ${round}: acknowledged bookings lost`).toEqual([]);
      const slots = all.filter((c) => c.status === 'agendada').map((c) => `${c.medicoId}|${c.inicio}`);
      expect(new Set(slots).size, `round ${round}: a slot holds two agendada consultas`).toBe(slots.length);
      const lastDay = slot(Math.max(0, next - 1)).slice(0, 10);
      const agenda = (await (await authedFetch(`${server.url}/medicos/${medico.id}/agenda?data=${lastDay}`)).json()) as { slots: { estado: string }[] };
      expect(agenda.slots.filter((s) => s.estado === 'reservado')).toEqual([]);
      // The idempotency store still answers: replaying an acknowledged key books nothing new.
      const [someId, how] = [...acked.entries()].at(-1) ?? [];
      if (someId && how) {
        const replay = await authedFetch(`${server.url}/consultas/agendar`, { method: 'POST', headers: { ...json, 'Idempotency-Key': how.key }, body: how.body });
        expect(replay.status).toBe(201);
        expect(((await replay.json()) as { id: string }).id).toBe(someId);
      }
    }
    expect(acked.size).toBeGreaterThan(ROUNDS);
    await server.stop();
  }, 240_000);
});
