import { afterAll, afterEach, beforeAll } from 'vitest';
import { createDatabase, startPostgres, type PostgresCluster } from './postgres.js';

/**
 * A throwaway PostgreSQL cluster for the `describe` block that calls this: started before its tests, stopped after
 * them. Whatever a test hands to `track` (storages, pools) is closed after that test; `database(prefix)` makes a
 * fresh empty database and returns its URL. (Apart from `postgres.ts`, which the benchmarks load outside vitest.)
 */
export function throwawayCluster() {
  let cluster: PostgresCluster | undefined;
  let databases = 0;
  const opened: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    cluster = await startPostgres();
  }, 120_000);

  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((s) => s.close()));
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  return {
    get cluster(): PostgresCluster {
      if (!cluster) throw new Error('cluster not started yet (use it inside a test)');
      return cluster;
    },
    database: (prefix: string): Promise<string> => createDatabase(cluster!.url, `${prefix}_${++databases}`),
    track<T extends { close(): Promise<void> }>(closable: T): T {
      opened.push(closable);
      return closable;
    },
  };
}
