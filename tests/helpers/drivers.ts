import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe } from 'vitest';
import { PgStorage } from '../../src/infra/storage/postgres/pg-storage.js';
import { silentLogger } from './logger.js';
import { createDatabase, skipWithoutPostgres, startPostgres, type PostgresCluster } from './postgres.js';

/**
 * The storage drivers an HTTP suite can run on. `describeEachDriver` runs a suite once per driver; `makeApp()`
 * inside it builds its app on that driver. PostgreSQL apps share one throwaway cluster per test file (started
 * when the file's first PostgreSQL suite begins, stopped after the file), each app on a database of its own,
 * copied from one migrated once.
 */
export type Driver = 'json' | 'postgres';
export const DRIVERS: readonly Driver[] = ['json', 'postgres'];

/** The driver of the suite running now: `makeApp()` outside `describeEachDriver` stays on JSON. */
let scoped: Driver = 'json';
export const currentDriver = (): Driver => scoped;

/**
 * `fn` once per driver, as `[json] …` and `[postgres] …`, so a failure names its driver. Without PostgreSQL
 * binaries the PostgreSQL half is skipped with a notice (and fails in CI: see `skipWithoutPostgres`).
 */
export function describeEachDriver(fn: (driver: Driver) => void): void {
  for (const driver of DRIVERS) {
    describe.skipIf(driver === 'postgres' && skipWithoutPostgres())(`[${driver}]`, () => {
      // initdb and the template's migrations: once per file, before the first test that needs them.
      if (driver === 'postgres') {
        beforeAll(async () => {
          await templateReady();
        }, 120_000);
      }
      beforeEach(() => {
        scoped = driver;
      });
      afterEach(() => {
        scoped = 'json';
      });
      fn(driver);
    });
  }
}

const TEMPLATE = 'modelo_http';
let cluster: Promise<PostgresCluster> | undefined;
let template: Promise<void> | undefined;
let databases = 0;
/** Databases made for the current test, dropped after it (a copy is a few MB; a file makes tens). */
const made: string[] = [];
/** Data directory → database of the app made on it: an app reopened on the same data directory (a restart) finds its database. */
const byDataDir = new Map<string, string>();

function templateReady(): Promise<void> {
  cluster ??= startPostgres();
  template ??= (async () => {
    const url = await createDatabase((await cluster).url, TEMPLATE);
    // Migrated once, then closed: a template must have no connections while it is copied.
    const storage = new PgStorage({ url, logger: silentLogger, poolMax: 1 });
    await storage.open();
    await storage.close();
  })();
  return template;
}

/**
 * A PgStorage on a fresh migrated database, or on the one of an earlier app of `dataDir` (a restart). The copy
 * is made when asked, not ahead: made in the background while a test ran, it competed with the test's own
 * commits for the disk and made the suite slower, not faster.
 */
export async function pgStorageFor(dataDir: string): Promise<{ storage: PgStorage; url: string }> {
  let url = byDataDir.get(dataDir);
  if (!url) {
    await templateReady();
    const name = `http_${process.pid}_${++databases}`;
    url = await createDatabase((await cluster!).url, name, { template: TEMPLATE });
    made.push(name);
    byDataDir.set(dataDir, url);
  }
  // A short poll: the feed's notifications carry the commits; the poll only backs them up.
  const storage = new PgStorage({ url, logger: silentLogger, poolMax: 10, feedPollMs: 500, applicationName: 'http-suite' });
  await storage.open();
  return { storage, url };
}

/** The database of the app made on `dataDir`, if it is a PostgreSQL app. */
export const databaseOf = (dataDir: string): string | undefined => byDataDir.get(dataDir);

/** Drops the current test's databases; app.ts has closed the apps on them by then. */
export async function dropTestDatabases(): Promise<void> {
  byDataDir.clear();
  const names = made.splice(0);
  if (names.length === 0 || !cluster) return;
  const admin = new pg.Client({ connectionString: (await cluster).url });
  await admin.connect();
  try {
    for (const name of names) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

afterAll(async () => {
  const started = cluster;
  cluster = undefined;
  template = undefined;
  if (started) await (await started).stop();
});
