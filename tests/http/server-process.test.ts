import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { medicoBody, pacienteBody } from '../helpers/app.js';
import { failedStart, startServer, authedFetch } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const post = (url: string, body: unknown) =>
  authedFetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('the server process', () => {
  it('when started on an empty directory with SEED=true, then demo data is there, and it survives a restart', async () => {
    const dataDir = tempDir();
    const first = await startServer({ DATA_DIR: dataDir, SEED: 'true' });
    const seeded = (await (await authedFetch(`${first.url}/medicos`)).json()) as { total: number };
    expect(seeded.total).toBeGreaterThanOrEqual(3);
    const pacientes = (await (await authedFetch(`${first.url}/pacientes`)).json()) as { total: number };
    expect(pacientes.total).toBeGreaterThanOrEqual(3);

    const m = await post(`${first.url}/medicos`, medicoBody({ crm: '424242/AM' }));
    expect(m.status).toBe(201);
    const p = await post(`${first.url}/pacientes`, pacienteBody({ cpf: '123.456.789-09' }));
    expect(p.status).toBe(201);
    const created = (await m.json()) as { id: string };
    const paciente = (await p.json()) as { id: string };
    expect(await first.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    // Clean shutdown checkpointed: the data file itself holds the new médico.
    expect(readFileSync(path.join(dataDir, 'medicos.json'), 'utf8')).toContain(created.id);

    const second = await startServer({ DATA_DIR: dataDir, SEED: 'true' });
    const again = await authedFetch(`${second.url}/medicos/${created.id}`);
    expect(again.status).toBe(200);
    expect((await authedFetch(`${second.url}/pacientes/${paciente.id}`)).status).toBe(200);
    const list = (await (await authedFetch(`${second.url}/medicos`)).json()) as { total: number };
    expect(list.total).toBe(seeded.total + 1); // not seeded twice
    await second.stop();
  }, 60_000);

  it('when a configuration value is bad, then the start stops with a message naming it', async () => {
    const { code, stderr } = await failedStart({ DATA_DIR: tempDir(), PORT: 'oitenta' });
    expect(code).toBe(1);
    expect(stderr).toContain('PORT');
    const tz = await failedStart({ DATA_DIR: tempDir(), CLINIC_TZ: 'America/Atlantida' });
    expect(tz.stderr).toContain('CLINIC_TZ');
  }, 30_000);

  it('when a data file is corrupt, then the start stops naming the file, and the file is not overwritten', async () => {
    const dataDir = tempDir();
    const file = path.join(dataDir, 'pacientes.json');
    writeFileSync(file, '{"format":1,"collection":"pacientes","generation":0,"records":[{"id":"a"},');
    const { code, stderr } = await failedStart({ DATA_DIR: dataDir });
    expect(code).toBe(1);
    expect(stderr).toContain(file);
    expect(readFileSync(file, 'utf8')).toBe('{"format":1,"collection":"pacientes","generation":0,"records":[{"id":"a"},');
  }, 30_000);

  it('when running, then no log line carries a CPF, e-mail, phone or patient name', async () => {
    const dataDir = tempDir();
    const server = await startServer({ DATA_DIR: dataDir, LOG_LEVEL: 'debug' });
    const body = pacienteBody({ nome: 'Zuleica Quintanilha', cpf: '390.533.447-05', email: 'zuleica@example.com', telefone: '+55 31 98888-7777' });
    expect((await post(`${server.url}/pacientes`, body)).status).toBe(201);
    expect((await post(`${server.url}/pacientes`, body)).status).toBe(409);
    await authedFetch(`${server.url}/pacientes?cpf=39053344705&q=Zuleica`);
    await authedFetch(`${server.url}/nao-existe?nome=Zuleica`);
    await server.stop();
    const text = JSON.stringify(server.logs);
    expect(server.logs.length).toBeGreaterThan(3);
    for (const secret of ['39053344705', '390.533.447-05', 'Zuleica', 'Quintanilha', 'zuleica@example.com', '98888-7777']) {
      expect(text).not.toContain(secret);
    }
  }, 30_000);

  it('when two servers share one data directory, then each sees the other\'s writes and each CRM race has one winner', async () => {
    const dataDir = tempDir();
    const [a, b] = await Promise.all([startServer({ DATA_DIR: dataDir }), startServer({ DATA_DIR: dataDir })]);
    try {
      const created = await post(`${a.url}/medicos`, medicoBody({ crm: '1010/PE' }));
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as { id: string };
      expect((await authedFetch(`${b.url}/medicos/${id}`)).status).toBe(200);

      // Five CRMs, 40 requests each, all at once, alternating between the two processes.
      const crms = ['2020/PE', '3030/PE', '4040/PE', '5050/PE', '6060/PE'];
      const results = await Promise.all(
        crms.flatMap((crm) =>
          Array.from({ length: 40 }, (_, i) => post(`${i % 2 ? a.url : b.url}/medicos`, medicoBody({ nome: `Médico ${crm} ${i}`, crm }))),
        ),
      );
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 201)).toHaveLength(crms.length);
      expect(statuses.filter((s) => s === 409)).toHaveLength(crms.length * 39);
      for (const server of [a, b]) {
        const list = (await (await authedFetch(`${server.url}/medicos?q=medico`)).json()) as { total: number };
        expect(list.total).toBe(crms.length);
      }
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 60_000);
});
