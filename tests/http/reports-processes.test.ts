import { cpSync, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { makeApp } from '../helpers/app.js';
import { describeEachDriver } from '../helpers/drivers.js';
import { agendar, at, clinic } from '../helpers/scheduling.js';
import { tempDir } from '../helpers/tmp.js';

type App = Awaited<ReturnType<typeof makeApp>>;

/** Waits until `check` holds, for at most `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('a condição não se cumpriu a tempo');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function report(t: App, body: Record<string, unknown>): Promise<string> {
  const task = (await request(t.app).post('/sistema/tasks/relatorio').send(body).expect(202)).body.id as string;
  await t.container.queue.onIdle();
  return (await request(t.app).get(`/sistema/tasks/${task}`).expect(200)).body.resultado.nome as string;
}

/**
 * LGPD across the server processes of one database: each process keeps its reports in its own folder, and a report
 * that names a paciente anonymised through any process must stop being served by every one of them.
 */
describeEachDriver((driver) =>
  describe('stored reports across processes', () => {
    it.skipIf(driver === 'json')('when a paciente is anonymised on A, then B removes its own reports naming them (heard through the feed), and C, started later, at its start', async () => {
      const dataDir = tempDir('agenda-relatorios-');
      const dirs = { a: tempDir('agenda-relatorios-a-'), b: tempDir('agenda-relatorios-b-'), c: tempDir('agenda-relatorios-c-') };
      const a = await makeApp({ env: { DATA_DIR: dataDir, REPORTS_DIR: dirs.a } });
      const b = await makeApp({ env: { DATA_DIR: dataDir, REPORTS_DIR: dirs.b } });
      const { medicos, pacientes } = await clinic(a.app, { medicos: 2, pacientes: 2 });
      const [ana, bruno] = medicos as [string, string];
      const [named, other] = pacientes as [string, string];
      await agendar(a.app, { medicoId: ana, pacienteId: named, inicio: at('08:00') }).expect(201);
      await agendar(a.app, { medicoId: bruno, pacienteId: other, inicio: at('08:00') }).expect(201);
      const withHim = await report(b, { de: '2026-12-01', ate: '2026-12-31', medicoId: ana });
      const withoutHim = await report(b, { de: '2026-12-01', ate: '2026-12-31', medicoId: bruno });
      // What C will find in its folder when it starts: the same two reports, made while it was down.
      cpSync(dirs.b, dirs.c, { recursive: true });

      await request(a.app).post(`/pacientes/${named}/anonimizar`).expect(200);

      await until(() => !existsSync(path.join(dirs.b, withHim)));
      expect((await request(b.app).get(`/sistema/relatorios/${withHim}`)).status).toBe(404);
      await request(b.app).get(`/sistema/relatorios/${withoutHim}`).expect(200);
      expect(readdirSync(dirs.b).sort()).toEqual([withoutHim, `${withoutHim}.pacientes.json`].sort());

      const c = await makeApp({ env: { DATA_DIR: dataDir, REPORTS_DIR: dirs.c } });
      await until(() => !existsSync(path.join(dirs.c, withHim)));
      expect((await request(c.app).get('/sistema/relatorios').expect(200)).body.map((r: { nome: string }) => r.nome)).toEqual([withoutHim]);
    }, 60_000);
  }),
);
