import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgStorage } from '../../src/infra/storage/postgres/pg-storage.js';
import { silentLogger } from '../helpers/logger.js';
import { createDatabase, skipWithoutPostgres, startPostgres, type PostgresCluster } from '../helpers/postgres.js';

/**
 * `GET /health` asks the database on the change feed's own connection (never queued behind a busy pool). Under a
 * load of health checks they must share one statement at a time on it: pg 8 warns about a second query on a busy
 * client (and pg 9 refuses it).
 */
describe.skipIf(skipWithoutPostgres())('PostgreSQL health probe', () => {
  let cluster: PostgresCluster;
  let storage: PgStorage;
  beforeAll(async () => {
    cluster = await startPostgres();
    storage = new PgStorage({ url: await createDatabase(cluster.url, 'saude'), logger: silentLogger });
    await storage.open();
  }, 120_000);
  afterAll(async () => {
    await storage?.close();
    await cluster?.stop();
  });

  it('when 200 health checks arrive at once, then every one answers true and pg warns about nothing', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      const answers = await Promise.all(Array.from({ length: 200 }, () => storage.healthy()));
      expect(answers.every((ok) => ok)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 50)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => /client\.query\(\)/.test(w))).toEqual([]);
  });
});
