import { cpfFromNumber } from '../../src/schemas/paciente.schema.js';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { medicoBody, pacienteBody } from '../helpers/app.js';
import { CPFS } from '../helpers/scheduling.js';
import { authedFetch, startServer, type RunningServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const ROUNDS = 5;
const json = { 'content-type': 'application/json' };

/**
 * Why this test catches a trail that is not written with its data: each write below commits its record with one
 * fdatasync of the journal, and (without the outbox) its audit entry would be appended with a second fdatasync
 * of the audit file afterwards. Sixteen clients keep writes in flight all the time, so a SIGKILL lands, in most
 * rounds, between those two syncs of some write — committed or even acknowledged, without its entry — and the
 * check "every record in the data has its entry" fails. With the outbox, the entry is in the same journal line
 * as the record, and the restart appends whatever the files missed before it listens.
 */

const cpf = cpfFromNumber;

/** The n-th half-hour slot from the day after tomorrow, 06:00–22:00 São Paulo time (32 a day). */
const FIRST_DAY = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() + 2);
function slot(n: number): string {
  const date = new Date(FIRST_DAY + Math.floor(n / 32) * 86_400_000);
  const minutes = 6 * 60 + (n % 32) * 30;
  const hh = String(Math.floor(minutes / 60)).padStart(2, '0');
  const mm = String(minutes % 60).padStart(2, '0');
  return `${date.toISOString().slice(0, 10)}T${hh}:${mm}:00-03:00`;
}

/** Every item of a paged list. */
async function all<T>(url: string): Promise<T[]> {
  const items: T[] = [];
  for (let offset = 0; ; offset += 500) {
    const res = await authedFetch(`${url}${url.includes('?') ? '&' : '?'}limit=500&offset=${offset}`);
    expect(res.status, url).toBe(200);
    const page = (await res.json()) as { items: T[]; total: number };
    items.push(...page.items);
    if (page.items.length === 0 || items.length >= page.total) return items;
  }
}

/** Ids of every whole line of the audit files, read straight from disk. */
async function idsOnDisk(dataDir: string): Promise<string[]> {
  const dir = path.join(dataDir, 'auditoria');
  const ids: string[] = [];
  for (const file of (await fs.readdir(dir)).filter((f) => f.endsWith('.jsonl')).sort()) {
    const lines = (await fs.readFile(path.join(dir, file), 'utf8')).split('\n');
    lines.pop(); // the unterminated rest: empty, or a line being written right now
    for (const line of lines) ids.push((JSON.parse(line) as { id: string }).id);
  }
  return ids;
}

const difference = (a: Iterable<string>, b: Set<string>) => [...a].filter((x) => !b.has(x));

describe('crash: kill -9 under writes, the audit trail keeps up', () => {
  it(`when the server is killed at ${ROUNDS} different moments, then every write in the data has exactly one entry, no entry claims a write that is not there, and the chain is intact`, async () => {
    const dataDir = tempDir();
    const env = { DATA_DIR: dataDir, LOCK_STALE_MS: '2000', FERIADOS_NACIONAIS: 'false' };
    let server: RunningServer = await startServer(env);
    const medicoRes = await authedFetch(`${server.url}/medicos`, {
      method: 'POST', headers: json,
      body: JSON.stringify(medicoBody({ horarios: [0, 1, 2, 3, 4, 5, 6].map((d) => ({ diaSemana: d, inicio: '06:00', fim: '22:00' })) })),
    });
    expect(medicoRes.status).toBe(201);
    const medicoId = ((await medicoRes.json()) as { id: string }).id;
    const seeded: string[] = [];
    for (const c of CPFS) {
      const res = await authedFetch(`${server.url}/pacientes`, { method: 'POST', headers: json, body: JSON.stringify(pacienteBody({ cpf: c })) });
      seeded.push(((await res.json()) as { id: string }).id);
    }

    const acked = { pacientes: new Set<string>(), consultas: new Set<string>() };
    let nextCpf = 1000;
    let nextSlot = 0;
    for (let round = 0; round < ROUNDS; round++) {
      let running = true;
      const url = server.url;
      const post = async (target: string, body: unknown, into: Set<string>) => {
        try {
          const res = await authedFetch(`${url}${target}`, { method: 'POST', headers: json, body: JSON.stringify(body) });
          if (res.status === 201) into.add(((await res.json()) as { id: string }).id);
        } catch {
          // the server died mid-request: this write was never acknowledged (it may still be in the data)
        }
      };
      const creators = Array.from({ length: 8 }, async () => {
        while (running) {
          const n = nextCpf++;
          await post('/pacientes', pacienteBody({ nome: `Paciente ${n}`, cpf: cpf(n) }), acked.pacientes);
        }
      });
      const bookers = Array.from({ length: 8 }, async () => {
        while (running) {
          const n = nextSlot++;
          await post('/consultas/agendar', { medicoId, pacienteId: seeded[n % seeded.length], inicio: slot(n) }, acked.consultas);
        }
      });
      // A different moment each round: from just after the load starts to most of a second into it.
      await new Promise((resolve) => setTimeout(resolve, 100 + round * 150 + Math.floor(Math.random() * 150)));
      const killed = server.stop('SIGKILL');
      running = false;
      expect((await killed).signal).toBe('SIGKILL');
      await Promise.all([...creators, ...bookers]);

      // The start appends what the outbox held before it listens: the trail is complete when it answers.
      server = await startServer(env);
      const pacientes = new Set((await all<{ id: string }>(`${server.url}/pacientes`)).map((p) => p.id));
      const consultas = new Set((await all<{ id: string }>(`${server.url}/consultas`)).map((c) => c.id));
      const criados = await all<{ recursoId: string }>(`${server.url}/sistema/auditoria?acao=paciente.criar`);
      const agendados = await all<{ recursoId: string }>(`${server.url}/sistema/auditoria?acao=consulta.agendar`);
      const pacientesAudited = new Set(criados.map((e) => e.recursoId));
      const consultasAudited = new Set(agendados.map((e) => e.recursoId));

      expect(difference(acked.pacientes, pacientes), `round ${round}: acknowledged pacientes lost`).toEqual([]);
      expect(difference(acked.consultas, consultas), `round ${round}: acknowledged consultas lost`).toEqual([]);
      expect(difference(pacientes, pacientesAudited), `round ${round}: pacientes without their paciente.criar`).toEqual([]);
      expect(difference(consultas, consultasAudited), `round ${round}: consultas without their consulta.agendar`).toEqual([]);
      expect(difference(pacientesAudited, pacientes), `round ${round}: paciente.criar of a paciente not in the data`).toEqual([]);
      expect(difference(consultasAudited, consultas), `round ${round}: consulta.agendar of a consulta not in the data`).toEqual([]);
      expect(criados.length, `round ${round}: a paciente.criar twice`).toBe(pacientesAudited.size);
      expect(agendados.length, `round ${round}: a consulta.agendar twice`).toBe(consultasAudited.size);

      const ids = await idsOnDisk(dataDir);
      expect(ids.length - new Set(ids).size, `round ${round}: entries written twice`).toBe(0);
      const verification = await authedFetch(`${server.url}/sistema/auditoria/verificacao`);
      expect(await verification.json(), `round ${round}: chain`).toMatchObject({ integra: true });
    }
    // The load really ran: writes of both kinds were acknowledged across the rounds.
    expect(acked.pacientes.size).toBeGreaterThan(ROUNDS);
    expect(acked.consultas.size).toBeGreaterThan(ROUNDS);
    await server.stop();
  }, 240_000);
});
