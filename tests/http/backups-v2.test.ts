import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { dataFileBytes } from '../helpers/files.js';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createContainer } from '../../src/composition.js';
import { ManualClock } from '../../src/core/clock.js';
import { loadConfig } from '../../src/core/config.js';
import { LogBuffer, createLogger } from '../../src/core/logger.js';
import { TEST_NOW, makeApp, medicoBody } from '../helpers/app.js';
import { agendar, at, clinic } from '../helpers/scheduling.js';
import { exited, spawnTs } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';
import { bombManifest, writeBombZip } from '../helpers/zip-bomb.js';

type App = Awaited<ReturnType<typeof makeApp>>;

const KEY = randomBytes(32).toString('hex');
const MIB = 1024 * 1024;

async function backup(t: App): Promise<string> {
  const res = await request(t.app).post('/sistema/tasks/backup').expect(202);
  await t.container.queue.onIdle();
  const task = await request(t.app).get(`/sistema/tasks/${res.body.id}`).expect(200);
  expect(task.body).toMatchObject({ tipo: 'backup', status: 'concluida' });
  return task.body.resultado.nome as string;
}


/** What the API shows of the clinic's records (data files also hold sessions and audit, which requests touch). */
async function records(app: App['app']) {
  const list = async (p: string) => (await request(app).get(p).expect(200)).body;
  return { medicos: await list('/medicos'), pacientes: await list('/pacientes'), consultas: await list('/consultas') };
}

/**
 * Holds `method` of `target` until the returned function is called (to keep a task running); then it runs
 * for real, or — given `instead` — answers that at once (so held reports do not each start a worker).
 */
function hold<T extends object>(target: T, method: keyof T, instead?: unknown): () => void {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const original = (target[method] as (...args: unknown[]) => Promise<unknown>).bind(target);
  (target as Record<keyof T, unknown>)[method] = async (...args: unknown[]) => {
    await opened;
    return instead ?? original(...args);
  };
  return open;
}

describe('encrypted backups (BACKUP_KEY)', () => {
  it('when a key is set, then backups are .zip.enc, listed as criptografado, restorable, and /sistema/status says so', async () => {
    const t = await makeApp({ env: { BACKUP_KEY: KEY } });
    const { medicoId, pacienteId } = await clinic(t.app);
    await agendar(t.app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
    const nome = await backup(t);
    expect(nome).toMatch(/^backup-\d{8}-\d{6}\.zip\.enc$/);
    const list = await request(t.app).get('/sistema/backups').expect(200);
    expect(list.body).toEqual([{ nome, tamanhoBytes: expect.any(Number), criadoEm: expect.any(String), automatico: false, criptografado: true }]);
    expect((await request(t.app).get('/sistema/status').expect(200)).body.backups).toMatchObject({ criptografados: true });
    const download = await request(t.app).get(`/sistema/backups/${nome}`).expect(200);
    expect(download.headers['content-type']).toBe('application/octet-stream');

    const before = (await request(t.app).get('/consultas')).body;
    await request(t.app).post('/medicos').send(medicoBody({ crm: '4444/RJ' })).expect(201);
    const res = await request(t.app).post(`/sistema/backups/${nome}/restaurar`).expect(200);
    expect(res.body).toMatchObject({ restaurado: nome, contagens: { medicos: 1, consultas: 1 } });
    expect(res.body.backupDeSeguranca).toMatch(/\.zip\.enc$/);
    expect((await request(t.app).get('/consultas')).body).toEqual(before);
  });

  it('when no key is set, then /sistema/status says backups are in clear and the start logs a warning', async () => {
    const t = await makeApp();
    expect((await request(t.app).get('/sistema/status').expect(200)).body.backups).toMatchObject({ criptografados: false });
    const nome = await backup(t);
    expect((await request(t.app).get('/sistema/backups')).body[0]).toMatchObject({ nome, criptografado: false });

    const lines: string[] = [];
    const destination = new Writable({ write: (chunk, _enc, cb) => (lines.push(chunk.toString()), cb()) });
    const logger = await createLogger({ level: 'info', pretty: false, buffer: new LogBuffer(100), destination: destination as never });
    const dir = tempDir();
    const env = { DATA_DIR: dir, BACKUP_DIR: `${dir}/b`, REPORTS_DIR: `${dir}/r`, SEED: 'false', BACKUP_INTERVAL_MIN: '0' };
    const clear = await createContainer(loadConfig(env), { logger, clock: new ManualClock(TEST_NOW) });
    await clear.close();
    expect(lines.join('')).toMatch(/BACKUP_KEY não configurada/);
    lines.length = 0;
    const keyed = await createContainer(loadConfig({ ...env, BACKUP_KEY: KEY }), { logger, clock: new ManualClock(TEST_NOW) });
    await keyed.close();
    expect(lines.join('')).not.toMatch(/BACKUP_KEY não configurada/);
  });

  it('when a byte of an encrypted backup is flipped, or another key or no key is configured, then 422 and nothing changes', async () => {
    const t = await makeApp({ env: { BACKUP_KEY: KEY } });
    await clinic(t.app);
    const nome = await backup(t);
    const backupDir = t.container.config.backupDir;
    const bytes = readFileSync(path.join(backupDir, nome));
    bytes[Math.floor(bytes.length / 2)]! ^= 0x20;
    const flipped = 'backup-20200101-000000.zip.enc';
    writeFileSync(path.join(backupDir, flipped), bytes);
    // Audit entries of earlier writes leave the outbox collection asynchronously: let them settle first.
    await t.container.auditor.flush();
    const before = dataFileBytes(t.dataDir);
    const shown = await records(t.app);
    const res = await request(t.app).post(`/sistema/backups/${flipped}/restaurar`);
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ type: '/problemas/backup-invalido', detail: expect.stringMatching(/chave não confere ou o arquivo foi alterado/) });
    expect(dataFileBytes(t.dataDir)).toEqual(before);
    await t.container.close();

    const otherKey = await makeApp({ env: { DATA_DIR: t.dataDir, BACKUP_KEY: randomBytes(32).toString('base64') } });
    const wrong = await request(otherKey.app).post(`/sistema/backups/${nome}/restaurar`);
    expect(wrong.status).toBe(422);
    expect(await records(otherKey.app)).toEqual(shown);
    await otherKey.container.close();

    const noKey = await makeApp({ env: { DATA_DIR: t.dataDir } });
    const missing = await request(noKey.app).post(`/sistema/backups/${nome}/restaurar`);
    expect(missing.status).toBe(422);
    expect(missing.body.detail).toMatch(/criptografado.*BACKUP_KEY/);
    expect(await records(noKey.app)).toEqual(shown);
  });

  it('when npm run backup and npm run restore run with BACKUP_KEY, then the backup is encrypted and only that key restores it', async () => {
    const dataDir = tempDir();
    const env = { DATA_DIR: dataDir, BACKUP_DIR: `${dataDir}-b`, BACKUP_KEY: KEY, SEED: 'true' };
    const made = spawnTs('scripts/backup.ts', [], env);
    let out = '';
    made.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    expect((await exited(made)).code).toBe(0);
    const nome = /backup-\d{8}-\d{6}\.zip\.enc/.exec(out)![0];
    expect(out).toMatch(/criptografado com BACKUP_KEY/);

    const wrong = spawnTs('scripts/restore.ts', [nome], { ...env, BACKUP_KEY: randomBytes(32).toString('hex') });
    let err = '';
    wrong.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    expect((await exited(wrong)).code).toBe(1);
    expect(err).toMatch(/chave não confere/);

    const right = spawnTs('scripts/restore.ts', [nome], env);
    let restored = '';
    right.stdout!.on('data', (c: Buffer) => (restored += c.toString()));
    expect((await exited(right)).code).toBe(0);
    expect(restored).toContain(`restaurado: ${nome}`);
  }, 60_000);
});

describe('queue abuse: per-type bounds and coalescing', () => {
  it('when 1,000 backups are requested while one runs, then they all get the one pending task and bookings still answer 201', async () => {
    const t = await makeApp({ env: { WRITE_RATE_LIMIT: '0' } }); // the per-session write limit is not what is tested here
    const { medicoId, pacienteId } = await clinic(t.app);
    const release = hold(t.container.services.backups, 'create');
    const first = await request(t.app).post('/sistema/tasks/backup').expect(202);
    const ids = new Set<string>();
    for (let batch = 0; batch < 10; batch++) {
      const answers = await Promise.all(Array.from({ length: 100 }, () => request(t.app).post('/sistema/tasks/backup')));
      for (const a of answers) {
        expect(a.status).toBe(202);
        expect(a.headers.location).toBe(`/sistema/tasks/${a.body.id}`);
        ids.add(a.body.id);
      }
    }
    expect(ids.size).toBe(1);
    expect(ids.has(first.body.id)).toBe(false); // the running one is not joined: its snapshot may predate the request
    expect([...ids].map((id) => t.container.queue.get(id)!.status)).toEqual(['pendente']);
    await agendar(t.app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
    release();
    await t.container.queue.onIdle();
    expect((await request(t.app).get('/sistema/backups')).body).toHaveLength(2);
  });

  it('when the same report is asked twice while one waits, then the same task comes back; another period is a new task', async () => {
    const t = await makeApp();
    const release = hold(t.container.services.reports, 'generate', { nome: 'retido', paginas: 0, consultas: 0 });
    const running = await request(t.app).post('/sistema/tasks/relatorio').send({ de: '2026-12-01', ate: '2026-12-31' }).expect(202);
    const a = await request(t.app).post('/sistema/tasks/relatorio').send({ de: '2026-12-01', ate: '2026-12-31' }).expect(202);
    const b = await request(t.app).post('/sistema/tasks/relatorio').send({ de: '2026-12-01', ate: '2026-12-31' }).expect(202);
    const other = await request(t.app).post('/sistema/tasks/relatorio').send({ de: '2026-11-01', ate: '2026-11-30' }).expect(202);
    expect(b.body.id).toBe(a.body.id);
    expect(new Set([running.body.id, a.body.id, other.body.id]).size).toBe(3);
    // Different reports wait up to their own bound (10), then 503; bookings have their own.
    for (let day = 1; day <= 9; day++) {
      const res = await request(t.app).post('/sistema/tasks/relatorio').send({ de: `2026-10-${String(day).padStart(2, '0')}`, ate: '2026-10-31' });
      expect(res.status).toBe(day <= 8 ? 202 : 503);
    }
    release();
    await t.container.queue.onIdle();
  });

  it('when more than REPORTS_KEEP reports are made, then only the newest are kept', async () => {
    const t = await makeApp({ env: { REPORTS_KEEP: '2' } });
    const { reports } = t.container.services;
    const names: string[] = [];
    for (let i = 0; i < 3; i++) names.push((await reports.generate(await reports.resolve({}))).nome);
    expect(new Set(names).size).toBe(3);
    expect((await request(t.app).get('/sistema/relatorios').expect(200)).body.map((r: { nome: string }) => r.nome)).toEqual([names[2], names[1]]);
  }, 60_000);
});

describe('restore limits over HTTP', () => {
  it('when a zip bomb is restored three times at once, then 422/409, memory stays bounded and nothing changes', async () => {
    const t = await makeApp();
    await clinic(t.app);
    const bomb = 'backup-20200101-000000.zip';
    mkdirSync(t.container.config.backupDir, { recursive: true });
    writeBombZip(path.join(t.container.config.backupDir, bomb), [
      { name: 'data/journal.wal', zeros: 200 * MIB },
      { name: 'manifest.json', content: bombManifest('data/journal.wal', 200 * MIB) },
    ]);
    const before = await records(t.app);
    const base = process.memoryUsage().rss;
    let peak = base;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
    const answers = await Promise.all([1, 2, 3].map(() => request(t.app).post(`/sistema/backups/${bomb}/restaurar`)));
    clearInterval(timer);
    const statuses = answers.map((a) => a.status);
    expect(statuses).toContain(422);
    for (const a of answers) {
      if (a.status === 409) expect(a.body.type).toBe('/problemas/restauracao-em-andamento');
      else expect(a.body.type).toBe('/problemas/backup-invalido');
    }
    expect(peak - base).toBeLessThan(200 * MIB);
    expect(await records(t.app)).toEqual(before);
  });
});
