import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContainer } from '../../src/composition.js';
import { ManualClock } from '../../src/core/clock.js';
import { loadConfig } from '../../src/core/config.js';
import { PgStorage } from '../../src/infra/storage/postgres/pg-storage.js';
import { BackupService } from '../../src/services/backup.service.js';
import { ReportService } from '../../src/services/report.service.js';
import { TEST_NOW, makeApp } from '../helpers/app.js';
import { busyClinic, everyRecord } from '../helpers/backup-records.js';
import { silentLogger } from '../helpers/logger.js';
import { createDatabase, skipWithoutPostgres, startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The migration path between drivers is a backup: one format for both (issue 12, point 4). A clinic's records go
 * JSON → PostgreSQL → JSON through two backups and two restores, and come back identical.
 */
describe.skipIf(skipWithoutPostgres())('backups between drivers', () => {
  let cluster: PostgresCluster;

  beforeAll(async () => {
    cluster = await startPostgres();
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('when a JSON backup is restored into PostgreSQL and a PostgreSQL backup back into JSON, then every record is identical (and reports agree)', async () => {
    const source = await makeApp();
    await busyClinic(source);
    await source.container.auditor.flush();
    const original = await everyRecord(source.container.storage);
    const fromJson = await source.container.services.backups.create({ automatic: false });
    const backupDir = source.container.config.backupDir;

    const pg = new PgStorage({ url: await createDatabase(cluster.url, 'entre_drivers'), logger: silentLogger });
    await pg.open();
    try {
      const pgBackups = new BackupService({ storage: pg, backupDir, keep: 50, clock: new ManualClock(TEST_NOW), timezone: 'America/Sao_Paulo', logger: silentLogger });
      const restored = await pgBackups.restore(path.join(backupDir, fromJson.nome));
      expect(restored.contagens).toMatchObject({ medicos: 2, pacientes: 3, consultas: 2 });
      expect(await everyRecord(pg)).toEqual(original);
      // The driver's own queries (its typed columns, not only the exported records) see the restored rows.
      expect(await pg.consultas.list({ limit: 10, offset: 0 })).toMatchObject({ total: 2 });

      // Reports are built from records too: the same figures from either driver.
      const reportsOf = (storage: ConstructorParameters<typeof ReportService>[0]['storage']) =>
        new ReportService({ storage, reportsDir: tempDir('agenda-rel-'), clinicName: 'Clínica', clock: new ManualClock(TEST_NOW), timezone: 'America/Sao_Paulo', logger: silentLogger });
      const period = { de: '2026-12-01', ate: '2026-12-31' };
      const [fromJsonReport, fromPgReport] = await Promise.all(
        [source.container.storage, pg].map(async (storage) => {
          const reports = reportsOf(storage);
          return reports.generate(await reports.resolve(period));
        }),
      );
      expect(fromPgReport).toMatchObject({ consultas: 2, paginas: fromJsonReport!.paginas });
      expect(fromJsonReport).toMatchObject({ consultas: 2 });

      const fromPg = await pgBackups.create({ automatic: false });
      const dir = tempDir('agenda-de-volta-');
      const back = await createContainer(loadConfig({ DATA_DIR: dir, BACKUP_DIR: backupDir, REPORTS_DIR: `${dir}/r`, SEED: 'false', BACKUP_INTERVAL_MIN: '0' }), {
        clock: new ManualClock(TEST_NOW), logger: silentLogger,
      });
      try {
        const inBackup = await back.services.backups.validate(path.join(backupDir, fromPg.nome));
        expect(inBackup.get('consultas')).toHaveLength(2);
        await back.services.backups.restore(path.join(backupDir, fromPg.nome));
        expect(await everyRecord(back.storage)).toEqual(original);
      } finally {
        await back.close();
      }
    } finally {
      await pg.close();
    }
  }, 120_000);
});
