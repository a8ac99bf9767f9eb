import { rmSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import request from 'supertest';
import { describe, expect, it, vi } from 'vitest';
import { StorageUnavailableError } from '../../src/core/errors.js';
import { LogBuffer, createLogger } from '../../src/core/logger.js';
import { createContainer } from '../../src/composition.js';
import { ManualClock } from '../../src/core/clock.js';
import { loadConfig } from '../../src/core/config.js';
import { seedDemoData } from '../../src/services/seed.js';
import { TEST_NOW, bearer, makeApp, medicoBody, pacienteBody, signIn, signedInApp } from '../helpers/app.js';
import { createApp } from '../../src/app.js';
import { agendar, at, clinic } from '../helpers/scheduling.js';
import { exited, spawnTs } from '../helpers/spawn.js';
import { startServer, authedFetch } from '../helpers/server.js';
import { listen, openStream } from '../helpers/sse.js';
import { tempDir } from '../helpers/tmp.js';

/** An app whose logger is real (info level), with every line also captured as text. */
async function loggedApp() {
  const lines: string[] = [];
  const buffer = new LogBuffer(500);
  const destination = new Writable({ write: (chunk, _enc, cb) => (lines.push(chunk.toString()), cb()) });
  const logger = await createLogger({ level: 'info', pretty: false, buffer, destination: destination as never });
  const dataDir = tempDir();
  const container = await createContainer(loadConfig({ DATA_DIR: dataDir, BACKUP_DIR: `${dataDir}/b`, REPORTS_DIR: `${dataDir}/r`, SEED: 'false' }), {
    logger, logBuffer: buffer, clock: new ManualClock(TEST_NOW),
  });
  const { app } = await signedInApp(container);
  return { app, container, lines };
}

describe('GET /sistema/logs', () => {
  it('when filtered by level, time and text, then only matching entries come, oldest first', async () => {
    const { app, container } = await loggedApp();
    await request(app).post('/medicos').send(medicoBody()).expect(201);
    await request(app).get('/nao-existe').expect(404);
    container.logger.warn({ detalhe: 1 }, 'aviso de teste');
    const all = await request(app).get('/sistema/logs').expect(200);
    expect(all.body.items.length).toBeGreaterThan(2);
    expect(all.body.items[0]).toMatchObject({ hora: expect.any(String), nivel: expect.any(String), msg: expect.any(String) });
    const warn = await request(app).get('/sistema/logs').query({ nivel: 'warn' }).expect(200);
    const warnings = warn.body.items.map((e: { msg: string }) => e.msg);
    expect(warnings).toContain('aviso de teste'); // beside the start-up warning about backups in clear
    expect(warnings).not.toContain('médico cadastrado');
    const text = await request(app).get('/sistema/logs').query({ q: 'CADASTRADO' }).expect(200);
    expect(text.body.items.map((e: { msg: string }) => e.msg)).toEqual(['médico cadastrado']);
    const future = await request(app).get('/sistema/logs').query({ desde: '2099-01-01T00:00:00Z' }).expect(200);
    expect(future.body.items).toEqual([]);
    const limited = await request(app).get('/sistema/logs').query({ limit: 1 }).expect(200);
    expect(limited.body.items).toHaveLength(1);
    expect((await request(app).get('/sistema/logs').query({ nivel: 'alto' })).status).toBe(400);
    await container.close();
  });

  it('when a password is shown once at start (first admin, demo users), then it reaches the console only, never /sistema/logs', async () => {
    const { container, lines } = await loggedApp();
    // The first-start path needs a store without users.
    for (const u of (await container.storage.usuarios.list(10, 0)).items) await container.storage.run((tx) => tx.usuarios.remove(u.id));
    const first = await container.services.usuarios.ensureFirstAdmin('chefe@clinica.local', undefined);
    const { medicos, pacientes, usuarios } = container.services;
    await seedDemoData({ storage: container.storage, medicos, pacientes, usuarios, logger: container.logger });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const demo = /senha ([\w-]+) \(mostrada só agora\)/.exec(lines.join(''))?.[1];
    expect(first).toBeDefined();
    expect(demo).toBeDefined();
    expect(lines.join('')).toContain(first!);
    const { token } = await signIn(container, 'admin');
    const served = JSON.stringify((await request(createApp(container)).get('/sistema/logs').query({ limit: 1000 }).set(bearer(token)).expect(200)).body);
    expect(served).toContain('dados de demonstração criados');
    for (const secret of [first!, demo!]) expect(served).not.toContain(secret);
    await container.close();
  });

  it('when another process made the demo users a moment before (both started on empty storage), then this one prints no password for them, and names only users it made', async () => {
    const { container, lines } = await loggedApp();
    const { medicos, pacientes, usuarios } = container.services;
    // The other process's receptionist already exists; its médica does not yet.
    await usuarios.create({ nome: 'Recepção (outro processo)', email: 'recepcao@clinica.local', papel: 'recepcao', ativo: true, senha: 'senha-do-outro-processo' });
    await seedDemoData({ storage: container.storage, medicos, pacientes, usuarios, logger: container.logger });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const shown = /usuários de demonstração: (.*), senha ([\w-]+) \(mostrada só agora\)/.exec(lines.join(''));
    expect(shown?.[1]).toBe('ana.souza@clinica.local (médica)');
    const app = createApp(container);
    await request(app).post('/auth/login').send({ email: 'ana.souza@clinica.local', senha: shown![2] }).expect(200);
    await request(app).post('/auth/login').send({ email: 'recepcao@clinica.local', senha: shown![2] }).expect(401);
    await container.close();

    // Both made by the other process: no password line at all.
    const second = await loggedApp();
    const services = second.container.services;
    await services.usuarios.create({ nome: 'Recepção', email: 'recepcao@clinica.local', papel: 'recepcao', ativo: true, senha: 'senha-do-outro-processo' });
    const ana = await services.medicos.create({ ...medicoBody(), nome: 'Dra. Ana Souza', crm: '99999/SP', maxEncaixesDia: 2, ativo: true });
    await services.usuarios.create({ nome: 'Dra. Ana', email: 'ana.souza@clinica.local', papel: 'medico', medicoId: ana.id, ativo: true, senha: 'senha-do-outro-processo' });
    await services.medicos.remove(ana.id);
    await seedDemoData({ storage: second.container.storage, medicos: services.medicos, pacientes: services.pacientes, usuarios: services.usuarios, logger: second.container.logger });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(second.lines.join('')).not.toMatch(/mostrada só agora/);
    expect(second.lines.join('')).toContain('usuários de demonstração criados por outro processo');
    await second.container.close();
  });

  it('when streaming, then a new entry arrives as event: log', async () => {
    const { app, container } = await loggedApp();
    const server = await listen(app);
    const stream = await openStream(`${server.url}/sistema/logs/stream`);
    await stream.until(() => stream.retry !== undefined);
    container.logger.info('entrada ao vivo');
    await stream.until(() => stream.messages.some((m) => m.event === 'log' && JSON.parse(m.data).msg === 'entrada ao vivo'));
    stream.close();
    await server.close();
    await container.close();
  });

  it('when patients are registered, booked and listed, then no log line carries their personal data', async () => {
    const { app, container, lines } = await loggedApp();
    const { medicoId } = await clinic(app);
    const p = await request(app)
      .post('/pacientes')
      .send(pacienteBody({ nome: 'Genoveva Quaresma', cpf: '153.509.460-56', email: 'genoveva@example.com', telefone: '+55 51 97777-1234' }))
      .expect(201);
    await agendar(app, { medicoId, pacienteId: p.body.id, inicio: at('08:00'), observacoes: 'Genoveva tem alergia' }).expect(201);
    await request(app).get('/pacientes').query({ cpf: '15350946056', q: 'Genoveva' }).expect(200);
    await request(app).post('/pacientes').send(pacienteBody({ nome: 'Genoveva Quaresma', cpf: '15350946056' })).expect(409);
    await request(app).post('/sistema/tasks/relatorio').send({ de: '2026-12-01', ate: '2026-12-31' }).expect(202);
    await container.queue.onIdle();
    const logged = lines.join('') + JSON.stringify((await request(app).get('/sistema/logs').query({ limit: 1000 })).body);
    expect(lines.length).toBeGreaterThan(5);
    for (const secret of ['Genoveva', 'Quaresma', '15350946056', '153.509.460-56', 'genoveva@example.com', '97777-1234', 'alergia']) {
      expect(logged).not.toContain(secret);
    }
    await container.close();
  });
});

describe('how failures are logged', () => {
  /** The JSON lines logged so far, parsed. */
  const parsed = (lines: string[]) => lines.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  /** The lines logged so far that `pick` keeps, once there are `count` of them (logging is asynchronous). */
  const logged = async (lines: string[], pick: (line: Record<string, unknown>) => boolean, count: number) =>
    vi.waitFor(() => {
      const found = parsed(lines).filter(pick);
      expect(found).toHaveLength(count);
      return found;
    });

  it('when storage is unavailable (503), then a warning names the causes without a stack; a fault (500) is an error with its stack', async () => {
    const { app, container, lines } = await loggedApp();
    // A fault of the code is an error, with its stack.
    const get = container.storage.medicos.get;
    container.storage.medicos.get = () => Promise.reject(new Error('falha de teste'));
    await request(app).get('/medicos/qualquer').expect(500);
    container.storage.medicos.get = get;
    const [fault] = await logged(lines, (l) => l['msg'] === 'erro não tratado', 1);
    expect(fault).toMatchObject({ level: 50, err: { message: 'falha de teste', stack: expect.stringContaining('at ') } });
    expect((await logged(lines, (l) => l['msg'] === 'requisição' && l['status'] === 500, 1))[0]!['level']).toBe(50);

    // A backup task that meets the storage unavailable: a warning too, naming the task and the causes.
    const exportRecords = container.storage.exportRecords;
    container.storage.exportRecords = () => Promise.reject(new StorageUnavailableError('O banco de dados está indisponível no momento.'));
    await request(app).post('/sistema/tasks/backup').expect(202);
    const [task] = await logged(lines, (l) => l['msg'] === 'tarefa falhou', 1);
    expect(task).toMatchObject({
      level: 40, tipo: 'backup', code: 'ARMAZENAMENTO_INDISPONIVEL', detalhe: 'Não foi possível gravar o backup.',
      causas: ['O banco de dados está indisponível no momento. (ARMAZENAMENTO_INDISPONIVEL)'],
    });
    expect(task!['err']).toBeUndefined();
    container.storage.exportRecords = exportRecords;

    // Storage unavailable: the data directory has become a file (root ignores permission bits).
    const dataDir = container.config.dataDir;
    rmSync(dataDir, { recursive: true });
    writeFileSync(dataDir, 'not a directory');
    const body = pacienteBody({ nome: 'Genoveva Quaresma', cpf: '153.509.460-56' });
    await request(app).post('/pacientes').send(body).expect(503);
    await request(app).get('/health').expect(503);
    const unavailable = await logged(lines, (l) => l['code'] === 'ARMAZENAMENTO_INDISPONIVEL' && l['msg'] !== 'tarefa falhou', 2);
    for (const line of unavailable) {
      expect(line['level']).toBe(40);
      expect(line['err']).toBeUndefined();
      expect(JSON.stringify(line)).not.toContain('stack');
      // The causes are named: the file system's refusal, with its code; nothing of what was posted.
      expect((line['causas'] as string[]).join(' ')).toMatch(/ENOTDIR/);
    }
    const requests503 = await logged(lines, (l) => l['msg'] === 'requisição' && l['status'] === 503, 2);
    expect(requests503.map((l) => l['level'])).toEqual([40, 40]);
    expect(lines.join('')).not.toMatch(/Genoveva|15350946056|153\.509/);

    // Closing checkpoints, which the store refuses now that its journal is gone; then the stray file goes.
    await container.close().catch(() => undefined);
    rmSync(dataDir, { force: true });
  });
});

describe('GET /sistema/status', () => {
  it('when asked, then it reports uptime, platform, memory, queue, cache, SSE and directories', async () => {
    const { app, container } = await makeApp();
    await clinic(app);
    const res = await request(app).get('/sistema/status').expect(200);
    expect(res.body).toMatchObject({
      status: 'ok',
      plataforma: { platform: process.platform, node: process.version },
      fila: { pendentes: 0, porStatus: expect.any(Object) },
      cache: { registros: { medicos: 1, pacientes: 1, consultas: 0 }, horariosReservados: 0 },
      sse: { agendaClientes: 0, logsClientes: 0 },
      diretorios: { dados: container.config.dataDir, backups: container.config.backupDir, relatorios: container.config.reportsDir },
    });
    expect(res.body.memoria.rssBytes).toBeGreaterThan(0);
  });
});

describe('operator commands with the server stopped', () => {
  it('when npm run backup and npm run restore run, then they back up and restore the data directory', async () => {
    const dataDir = tempDir();
    const env = { DATA_DIR: dataDir, BACKUP_DIR: `${dataDir}-b` };
    const first = await startServer(env);
    await authedFetch(`${first.url}/medicos`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(medicoBody()) });
    await first.stop();

    const backup = spawnTs('scripts/backup.ts', [], env);
    let out = '';
    backup.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    expect((await exited(backup)).code).toBe(0);
    const nome = /backup-\d{8}-\d{6}\.zip/.exec(out)![0];

    const second = await startServer(env);
    await authedFetch(`${second.url}/medicos`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(medicoBody({ crm: '8888/SP' })) });
    await second.stop();

    const restore = spawnTs('scripts/restore.ts', [nome], env);
    let restored = '';
    restore.stdout!.on('data', (c: Buffer) => (restored += c.toString()));
    expect((await exited(restore)).code).toBe(0);
    expect(restored).toContain('medicos: 1');

    const third = await startServer(env);
    const list = (await (await authedFetch(`${third.url}/medicos`)).json()) as { total: number };
    expect(list.total).toBe(1);
    await third.stop();

    const bad = spawnTs('scripts/restore.ts', ['backup-19990101-000000.zip'], env);
    let err = '';
    bad.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    expect((await exited(bad)).code).toBe(1);
    expect(err).toMatch(/não encontrado/);
  }, 180_000); // four script processes, each starting tsx: slow on a loaded machine
});

describe('SIGTERM during bookings', () => {
  it('when the server is stopped mid-load, then it exits 0, every 201 is on disk and no slot stays reservado', async () => {
    const dataDir = tempDir();
    const env = { DATA_DIR: dataDir };
    const server = await startServer(env);
    const post = (p: string, body: unknown) =>
      authedFetch(`${server.url}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const medico = (await (await post('/medicos', medicoBody({ horarios: [0, 1, 2, 3, 4, 5, 6].map((d) => ({ diaSemana: d, inicio: '06:00', fim: '22:00' })) }))).json()) as { id: string };
    const paciente = (await (await post('/pacientes', pacienteBody())).json()) as { id: string };
    const attempts = Array.from({ length: 300 }, (_, i) => {
      const day = 2 + Math.floor(i / 32); // from 2031-01-02: New Year's Day is a holiday (slots bloqueado)
      const minutes = 6 * 60 + (i % 32) * 30;
      const inicio = `2031-01-${String(day).padStart(2, '0')}T${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}:00-03:00`;
      return post('/consultas/agendar', { medicoId: medico.id, pacienteId: paciente.id, inicio }).then(
        async (r) => ({ status: r.status, body: (await r.json().catch(() => null)) as { id?: string } | null }),
        () => ({ status: 0, body: null }),
      );
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    const stopped = server.stop('SIGTERM');
    const results = await Promise.all(attempts);
    expect(await stopped).toEqual({ code: 0, signal: null });
    const created = results.filter((r) => r.status === 201).map((r) => r.body!.id!);
    expect(created.length).toBeGreaterThan(0);
    for (const r of results) expect([0, 201, 503]).toContain(r.status);

    const again = await startServer(env);
    const list = (await (await authedFetch(`${again.url}/consultas?limit=500`)).json()) as { items: { id: string }[] };
    const onDisk = new Set(list.items.map((c) => c.id));
    expect(created.filter((id) => !onDisk.has(id))).toEqual([]);
    const agenda = (await (await authedFetch(`${again.url}/medicos/${medico.id}/agenda?de=2031-01-02&ate=2031-01-12`)).json()) as { slots: { estado: string }[] };
    expect(agenda.slots.filter((s) => s.estado === 'reservado')).toEqual([]);
    await again.stop();
  }, 60_000);
});
