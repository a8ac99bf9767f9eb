import { readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { makeApp, pacienteBody } from '../helpers/app.js';
import { databaseOf, describeEachDriver } from '../helpers/drivers.js';
import { asSuperuser } from '../helpers/postgres.js';
import { CPFS, agendar, at, clinic } from '../helpers/scheduling.js';
import { ReportService } from '../../src/services/report.service.js';
import { ANONYMISED_NAME } from '../../src/services/paciente.service.js';
import { cpfFromNumber } from '../../src/schemas/paciente.schema.js';

/**
 * Every file under a directory, as text (data files, journal, audit trail). A file gone between listing and reading
 * (the store's lock file, taken and let go by background work such as the audit outbox) holds nothing to search.
 */
function allText(dir: string): string {
  let out = '';
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    try {
      out += statSync(file).isDirectory() ? allText(file) : readFileSync(file, 'latin1') + readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return out;
}

describe('LGPD: export', () => {
  it('when an admin exports a paciente, then the record, every consulta and the audit entries naming them come back', async () => {
    const { app, container } = await makeApp();
    const { medicoId, pacienteId, pacientes } = await clinic(app, { pacientes: 2 });
    const c1 = await agendar(app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
    const c2 = await agendar(app, { medicoId, pacienteId, inicio: at('09:00') }).expect(201);
    await request(app).post(`/consultas/${c2.body.id}/cancelar`).send({}).expect(200);
    await agendar(app, { medicoId, pacienteId: pacientes[1], inicio: at('10:00') }).expect(201);
    await request(app).get(`/pacientes/${pacienteId}`).expect(200);
    // A listing's entry names both pacientes of its page.
    await request(app).get('/pacientes').expect(200);
    await container.auditor.flush();

    const res = await request(app).get(`/pacientes/${pacienteId}/dados`).expect(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body.paciente).toMatchObject({ id: pacienteId, cpf: CPFS[0] });
    expect(res.body.consultas.map((c: { id: string }) => c.id).sort()).toEqual([c1.body.id, c2.body.id].sort());
    expect(res.body.listaEspera).toEqual([]);
    const acoes = res.body.auditoria.map((e: { acao: string }) => e.acao);
    expect(acoes).toEqual(expect.arrayContaining(['paciente.criar', 'consulta.agendar', 'consulta.cancelar', 'paciente.ler']));
    expect(acoes).toContain('paciente.listar');
    // Each entry names the subject alone: no other paciente's id leaves in someone else's export.
    for (const entry of res.body.auditoria) expect(entry.pacienteIds).toEqual([pacienteId]);
    expect(JSON.stringify(res.body)).not.toContain(pacientes[1]!);
    // The other paciente's booking is not theirs.
    expect(res.body.auditoria.filter((e: { acao: string }) => e.acao === 'consulta.agendar')).toHaveLength(2);
    await request(app).get('/pacientes/00000000-0000-4000-8000-000000000000/dados').expect(404);
  });
});

describe('LGPD: anonymisation and stored reports', () => {
  it('when a paciente is anonymised, then the stored reports that name them are removed (and those of unknown content), the others stay', async () => {
    const { app, container, dataDir } = await makeApp();
    const { medicos, pacientes } = await clinic(app, { medicos: 2, pacientes: 2 });
    const [ana, bruno] = medicos as [string, string];
    const [named, other] = pacientes as [string, string];
    await agendar(app, { medicoId: ana, pacienteId: named, inicio: at('08:00') }).expect(201);
    await agendar(app, { medicoId: bruno, pacienteId: other, inicio: at('08:00') }).expect(201);
    const report = async (body: Record<string, unknown>) => {
      const task = (await request(app).post('/sistema/tasks/relatorio').send(body).expect(202)).body.id as string;
      await container.queue.onIdle();
      return (await request(app).get(`/sistema/tasks/${task}`).expect(200)).body.resultado.nome as string;
    };
    const withHim = await report({ de: '2026-12-01', ate: '2026-12-31', medicoId: ana });
    const withoutHim = await report({ de: '2026-12-01', ate: '2026-12-31', medicoId: bruno });
    const unknown = await report({ de: '2026-12-01', ate: '2026-12-15', medicoId: bruno });
    const torn = await report({ de: '2026-12-01', ate: '2026-12-20', medicoId: bruno });
    // As an older version left it: no list of the pacientes it names. And a list cut short (a crash while written).
    rmSync(path.join(dataDir, 'r', `${unknown}.pacientes.json`));
    writeFileSync(path.join(dataDir, 'r', `${torn}.pacientes.json`), '["');
    expect(readFileSync(path.join(dataDir, 'r', `${withHim}.pacientes.json`), 'utf8')).toBe(JSON.stringify([named]));

    await request(app).post(`/pacientes/${named}/anonimizar`).expect(200);

    const listed = (await request(app).get('/sistema/relatorios').expect(200)).body.map((r: { nome: string }) => r.nome);
    expect(listed).toEqual([withoutHim]);
    expect((await request(app).get(`/sistema/relatorios/${withHim}`)).status).toBe(404);
    expect((await request(app).get(`/sistema/relatorios/${unknown}`)).status).toBe(404);
    expect((await request(app).get(`/sistema/relatorios/${torn}`)).status).toBe(404);
    await request(app).get(`/sistema/relatorios/${withoutHim}`).expect(200);
    expect(readdirSync(path.join(dataDir, 'r')).sort()).toEqual([withoutHim, `${withoutHim}.pacientes.json`].sort());
  });
});

describe('LGPD: a report of a period with a paciente anonymised before it', () => {
  it('when a paciente of the period was anonymised before the report, then the report is made without naming them, and stays until one it names is anonymised', async () => {
    const { app, container, dataDir } = await makeApp();
    const { medicos, pacientes } = await clinic(app, { medicos: 1, pacientes: 2 });
    const [medicoId] = medicos as [string];
    const [gone, named] = pacientes as [string, string];
    await agendar(app, { medicoId, pacienteId: gone, inicio: at('08:00') }).expect(201);
    await agendar(app, { medicoId, pacienteId: named, inicio: at('09:00') }).expect(201);
    await request(app).post(`/pacientes/${gone}/anonimizar`).expect(200);
    // A helper found every report of such a period failing with 409 paciente-anonimizado, for good.
    const task = (await request(app).post('/sistema/tasks/relatorio').send({ de: '2026-12-01', ate: '2026-12-31' }).expect(202)).body.id as string;
    await container.queue.onIdle();
    const done = (await request(app).get(`/sistema/tasks/${task}`).expect(200)).body;
    expect(done).toMatchObject({ status: 'concluida', resultado: { consultas: 2 } });
    const nome = done.resultado.nome as string;
    expect(readFileSync(path.join(dataDir, 'r', `${nome}.pacientes.json`), 'utf8')).toBe(JSON.stringify([named]));
    await request(app).get(`/sistema/relatorios/${nome}`).expect(200);
    // Anonymising the same paciente's records again changes nothing; anonymising one it names removes it.
    await container.services.reports.sweepAnonymised();
    await request(app).get(`/sistema/relatorios/${nome}`).expect(200);
    await request(app).post(`/pacientes/${named}/anonimizar`).expect(200);
    expect((await request(app).get(`/sistema/relatorios/${nome}`)).status).toBe(404);
  });
});

describe('LGPD: a report written while its paciente is anonymised', () => {
  it('when a paciente the report names is anonymised after its records were read, then the report is removed and its task fails saying why', async () => {
    const { app, container, dataDir } = await makeApp();
    const { medicoId, pacienteId } = await clinic(app, { pacientes: 1 });
    await agendar(app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
    const { storage, config, clock, logger } = container;
    // The export (the report's snapshot) still holds the name; the record read afterwards is anonymised, as when the
    // anonymisation commits while the PDF is being written.
    const real = (await storage.pacientes.get(pacienteId))!;
    const reports = new ReportService({
      storage: { exportRecords: () => storage.exportRecords(), medicos: storage.medicos, pacientes: { ...storage.pacientes, get: async () => ({ ...real, nome: ANONYMISED_NAME, cpf: '' }) } },
      reportsDir: config.reportsDir, clinicName: 'Clínica', clock, timezone: config.clinicTz, logger,
    });
    const params = await reports.resolve({ de: '2026-12-01', ate: '2026-12-31' });
    await expect(reports.generate(params)).rejects.toMatchObject({ code: 'PACIENTE_ANONIMIZADO' });
    expect(readdirSync(path.join(dataDir, 'r'))).toEqual([]);
  });
});

/** Every row of every table of the app's database (PostgreSQL), as text: records, change feed, audit, limits. */
async function databaseText(dataDir: string): Promise<string> {
  const url = databaseOf(dataDir);
  if (!url) return '';
  return asSuperuser(url, async (client) => {
    const { rows: tables } = await client.query<{ name: string }>("SELECT quote_ident(table_name) AS name FROM information_schema.tables WHERE table_schema = 'public'");
    let out = '';
    for (const { name } of tables) {
      const { rows } = await client.query<{ t: string }>(`SELECT string_agg(x::text, E'\\n') AS t FROM ${name} x`);
      out += `${rows[0]?.t ?? ''}\n`;
    }
    return out;
  });
}

describeEachDriver(() => describe('LGPD: anonymisation', () => {
  it('when a paciente is anonymised, then no CPF, name, e-mail or phone is left in any data file or table (change feed included), and consultas stay', async () => {
    const { app, container, dataDir } = await makeApp();
    const { medicoId } = await clinic(app, { pacientes: 0 });
    const joao = await request(app)
      .post('/pacientes')
      .send(pacienteBody({ nome: 'Zebedeu Quintanilha', cpf: CPFS[3], email: 'zebedeu@exemplo.com', telefone: '+55 31 98888-7777', dataNascimento: '1977-08-09' }))
      .expect(201);
    const id = joao.body.id as string;
    await request(app).put(`/pacientes/${id}`).send(pacienteBody({ nome: 'Zebedeu Quintanilha Filho', cpf: CPFS[3], email: 'zebedeu@exemplo.com', telefone: '+55 31 98888-7777', dataNascimento: '1977-08-09' })).expect(200);
    const consulta = await agendar(app, { medicoId, pacienteId: id, inicio: at('08:00') }).expect(201);
    // A waiting-list entry whose note names them: anonymisation removes it, and its history with it.
    await request(app).post('/lista-espera').send({ pacienteId: id, medicoId, de: '2026-12-07', ate: '2026-12-11', observacoes: 'Zebedeu prefere manhã' }).expect(201);
    const before = allText(dataDir) + (await databaseText(dataDir));
    expect(before).toContain('Zebedeu');
    expect(before).toContain('98888-7777');

    const res = await request(app).post(`/pacientes/${id}/anonimizar`).expect(200);
    expect(res.body).toMatchObject({ id, nome: 'Paciente anonimizado', cpf: '', email: null, telefone: null, dataNascimento: '1977-01-01' });
    await container.auditor.flush();
    const text = allText(dataDir) + (await databaseText(dataDir));
    for (const secret of ['Zebedeu', 'Quintanilha', CPFS[3]!, '153.509.460-56', 'zebedeu@exemplo.com', '98888-7777', '1977-08-09']) {
      expect(text, secret).not.toContain(secret);
    }
    await request(app).get(`/consultas/${consulta.body.id}`).expect(200);
    expect((await request(app).get(`/pacientes/${id}`).expect(200)).body.nome).toBe('Paciente anonimizado');
    // The CPF is free again, and the anonymised record cannot be edited back.
    await request(app).post('/pacientes').send(pacienteBody({ cpf: CPFS[3] })).expect(201);
    const edit = await request(app).put(`/pacientes/${id}`).send(pacienteBody({ cpf: CPFS[4] }));
    expect(edit.status).toBe(409);
    expect(edit.body).toMatchObject({ type: '/problemas/paciente-anonimizado', title: 'Paciente anonimizado', detail: 'Paciente anonimizado não pode ser editado.' });
    // And it survives a restart: the store reloads only anonymised data.
    await container.close();
    const again = await makeApp({ env: { DATA_DIR: dataDir } });
    expect((await request(again.app).get(`/pacientes/${id}`).expect(200)).body.cpf).toBe('');
  });

  it('when several pacientes are anonymised one after another, then each is (no CPF left clashes with the next), and a backup of them restores', async () => {
    const { app, container } = await makeApp();
    const ids: string[] = [];
    for (const cpf of [cpfFromNumber(880_001), cpfFromNumber(880_002), cpfFromNumber(880_003)]) ids.push((await request(app).post('/pacientes').send(pacienteBody({ cpf })).expect(201)).body.id as string);
    for (const id of ids) expect((await request(app).post(`/pacientes/${id}/anonimizar`)).status, id).toBe(200);
    const task = await request(app).post('/sistema/tasks/backup').expect(202);
    await container.queue.onIdle();
    const nome = (await request(app).get(`/sistema/tasks/${task.body.id}`)).body.resultado.nome as string;
    const restored = await request(app).post(`/sistema/backups/${nome}/restaurar`);
    expect(restored.status, JSON.stringify(restored.body)).toBe(200);
    for (const id of ids) expect((await request(app).get(`/pacientes/${id}`).expect(200)).body).toMatchObject({ nome: ANONYMISED_NAME, cpf: '' });
    // And one more after the restore: the anonymised ones hold no CPF a new anonymisation could clash with.
    const fourth = (await request(app).post('/pacientes').send(pacienteBody({ cpf: cpfFromNumber(880_001) })).expect(201)).body.id as string;
    await request(app).post(`/pacientes/${fourth}/anonimizar`).expect(200);
  });

  it('when a paciente or médico has any consulta, then DELETE is 409 pointing to anonimizar / deactivate; without history it is 204', async () => {
    const { app } = await makeApp();
    const { medicoId, pacienteId } = await clinic(app);
    const c = await agendar(app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
    await request(app).post(`/consultas/${c.body.id}/cancelar`).send({}).expect(200);
    const p = await request(app).delete(`/pacientes/${pacienteId}`);
    expect(p.body).toMatchObject({ status: 409, type: '/problemas/exclusao-bloqueada' });
    expect(p.body.detail).toMatch(/anonimizar/);
    expect((await request(app).delete(`/medicos/${medicoId}`)).status).toBe(409);
    const lonely = await request(app).post('/pacientes').send(pacienteBody({ cpf: CPFS[5] })).expect(201);
    await request(app).delete(`/pacientes/${lonely.body.id}`).expect(204);
  });
}));

describe('restore and access control', () => {
  it('when a backup is restored, then the restoring admin stays signed in, users are kept, and the restore is audited', async () => {
    const { app, container } = await makeApp();
    await clinic(app);
    const task = await request(app).post('/sistema/tasks/backup').expect(202);
    await container.queue.onIdle();
    const nome = (await request(app).get(`/sistema/tasks/${task.body.id}`)).body.resultado.nome as string;
    await request(app).post('/pacientes').send(pacienteBody({ cpf: CPFS[2] })).expect(201);
    const restored = await request(app).post(`/sistema/backups/${nome}/restaurar`).expect(200);
    expect(restored.body.contagens.pacientes).toBe(1);
    await request(app).get('/auth/sessao').expect(200);
    const trail = await request(app).get('/sistema/auditoria').query({ acao: 'backup.restaurar' }).expect(200);
    expect(trail.body.items).toHaveLength(1);
    expect(trail.body.items[0]).toMatchObject({ recursoId: nome, papel: 'admin' });
  });
});
