import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { ZipArchive } from 'archiver';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../../src/repositories/collections.js';
import { busyClinic, everyRecord, shown } from '../helpers/backup-records.js';
import { createContainer } from '../../src/composition.js';
import { ManualClock } from '../../src/core/clock.js';
import { loadConfig } from '../../src/core/config.js';
import { TEST_NOW, makeApp, pacienteBody } from '../helpers/app.js';
import { silentLogger } from '../helpers/logger.js';
import { agendar, at } from '../helpers/scheduling.js';

type App = Awaited<ReturnType<typeof makeApp>>;

async function backup(t: App): Promise<string> {
  const res = await request(t.app).post('/sistema/tasks/backup').expect(202);
  await t.container.queue.onIdle();
  const task = await request(t.app).get(`/sistema/tasks/${res.body.id}`).expect(200);
  expect(task.body).toMatchObject({ status: 'concluida' });
  return task.body.resultado.nome as string;
}

describe('backups of records (format 2)', () => {
  it('when a backup is restored into a fresh data directory, then every record is identical', async () => {
    const source = await makeApp();
    await busyClinic(source);
    const nome = await backup(source);
    await source.container.auditor.flush();
    const original = await everyRecord(source.container.storage);
    for (const c of [COLLECTIONS.medicos, COLLECTIONS.pacientes, COLLECTIONS.consultas, COLLECTIONS.idempotencia, COLLECTIONS.usuarios,
      COLLECTIONS.bloqueios, COLLECTIONS.feriados, COLLECTIONS.listaEspera]) {
      expect(original[c]!.length, c).toBeGreaterThan(0);
    }

    const target = await makeApp({ env: { BACKUP_DIR: source.container.config.backupDir } });
    const result = await target.container.services.backups.restore(path.join(source.container.config.backupDir, nome));
    expect(result.contagens).toMatchObject({ medicos: 2, pacientes: 3, consultas: 2, feriados: 1, bloqueios: 1, lista_espera: 1 });
    expect(await everyRecord(target.container.storage)).toEqual(original);
    // And again after a restart of the target: what was imported is what is on disk.
    await target.container.close();
    // (A bare container: the test app would sign a fresh admin in, a record of its own.)
    const again = await createContainer(loadConfig({ DATA_DIR: target.dataDir, BACKUP_DIR: `${target.dataDir}/b`, REPORTS_DIR: `${target.dataDir}/r`, SEED: 'false' }), {
      clock: new ManualClock(TEST_NOW), logger: silentLogger,
    });
    try {
      expect(await everyRecord(again.storage)).toEqual(original);
    } finally {
      await again.close();
    }
  }, 60_000);

  it('when a backup of the old format (data files and journal) is restored, then its records come back', async () => {
    const t = await makeApp();
    const { medicos, pacientes } = await busyClinic(t);
    // Some records in the data files, the rest only in the journal: the old format needs both.
    await t.container.store!.checkpoint();
    const late = await agendar(t.app, { medicoId: medicos[0], pacienteId: pacientes[2], inicio: at('10:00') }).expect(201);
    await t.container.auditor.flush();
    const before = await shown(t.app);
    const records = await everyRecord(t.container.storage);

    // The archive exactly as backups were written before issue 12: the file store's snapshot, a manifest of format 1.
    const snapshot = await t.container.store!.snapshot();
    expect(snapshot.files.find((f) => f.name === 'journal.wal')!.bytes.length).toBeGreaterThan(0);
    const manifest = {
      formatVersion: 1, criadoEm: '2026-11-30T11:00:00-03:00', automatico: false, contagens: snapshot.counts,
      arquivos: snapshot.files.map((f) => ({ nome: `data/${f.name}`, bytes: f.bytes.length, sha256: createHash('sha256').update(f.bytes).digest('hex') })),
    };
    const old = 'backup-20261130-110000.zip';
    mkdirSync(t.container.config.backupDir, { recursive: true });
    const archive = new ZipArchive({ zlib: { level: 6 } });
    const out = createWriteStream(path.join(t.container.config.backupDir, old));
    archive.pipe(out);
    for (const file of snapshot.files) archive.append(file.bytes, { name: `data/${file.name}` });
    archive.append(`${JSON.stringify(manifest, null, 2)}\n`, { name: 'manifest.json' });
    await archive.finalize();
    await once(out, 'close');

    // Change things after it.
    await request(t.app).post(`/consultas/${late.body.id}/cancelar`).send({}).expect(200);
    await request(t.app).post('/pacientes').send(pacienteBody({ nome: 'Depois', cpf: '12345678909' })).expect(201);

    const res = await request(t.app).post(`/sistema/backups/${old}/restaurar`).expect(200);
    expect(res.body).toMatchObject({ restaurado: old, contagens: { medicos: 2, pacientes: 3, consultas: 3 } });
    expect(await shown(t.app)).toEqual(before);
    expect(await everyRecord(t.container.storage)).toEqual(records);
    // Its safety backup (of the new format) holds the changes.
    const safety = await t.container.services.backups.validate(path.join(t.container.config.backupDir, res.body.backupDeSeguranca));
    expect(safety.get('pacientes')!.map((p) => (p as unknown as { nome: string }).nome)).toContain('Depois');
  }, 60_000);
});
