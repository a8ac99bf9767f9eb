import { afterAll } from 'vitest';
import { PgAuditLog } from '../../src/infra/storage/postgres/audit-log.js';
import { PgStorage } from '../../src/infra/storage/postgres/pg-storage.js';
import { silentLogger } from '../helpers/logger.js';
import { createDatabase, startPostgres, type PostgresCluster } from '../helpers/postgres.js';

/**
 * PostgreSQL audit trails for tests: one throwaway cluster per test file (started on first use), a template
 * database migrated once, and per call a fresh copy of it. A trail is a `PgAuditLog` over a `PgStorage`'s pool,
 * as the composition root builds it.
 */

let cluster: Promise<PostgresCluster> | undefined;
let template: Promise<void> | undefined;
let databases = 0;
const opened: { storage: PgStorage; trail: PgAuditLog }[] = [];

export function pgCluster(): Promise<PostgresCluster> {
  cluster ??= startPostgres();
  return cluster;
}

/** A fresh, migrated database (a copy of the template); returns its URL. */
export async function freshAuditDatabase(): Promise<string> {
  const { url } = await pgCluster();
  template ??= (async () => {
    const templateUrl = await createDatabase(url, 'modelo_auditoria');
    const storage = new PgStorage({ url: templateUrl, logger: silentLogger, poolMax: 1 });
    await storage.open();
    await storage.close();
  })();
  await template;
  return createDatabase(url, `auditoria_${process.pid}_${++databases}`, { template: 'modelo_auditoria' });
}

/** A PgStorage and the PgAuditLog over its pool, opened, on `url` (default: a fresh database). Closed after the file. */
export async function pgTrail(url?: string, options: { verifyBatch?: number } = {}): Promise<{ storage: PgStorage; trail: PgAuditLog; url: string }> {
  const target = url ?? (await freshAuditDatabase());
  const storage = new PgStorage({ url: target, logger: silentLogger, poolMax: 4, feedPollMs: 500, applicationName: 'auditoria-teste' });
  await storage.open();
  const trail = new PgAuditLog({ pool: storage.pool, logger: silentLogger, ...options });
  await trail.open();
  opened.push({ storage, trail });
  return { storage, trail, url: target };
}

afterAll(async () => {
  for (const { storage, trail } of opened.splice(0)) {
    await trail.close().catch(() => undefined);
    await storage.close().catch(() => undefined);
  }
  const started = cluster;
  cluster = undefined;
  template = undefined;
  if (started) await (await started).stop();
});
