import { describe, expect, it } from 'vitest';
import { throwawayCluster } from '../helpers/cluster.js';
import { skipWithoutPostgres } from '../helpers/postgres.js';
import { exited, spawnTs } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';

/** Starts the server on `databaseUrl` and returns how it ended and what it wrote on stderr. */
async function start(databaseUrl: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawnTs('src/server.ts', [], { STORAGE: 'postgres', DATABASE_URL: databaseUrl, DATA_DIR: tempDir(), PORT: '0', LOG_LEVEL: 'silent' });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const { code } = await exited(child);
  return { code, stderr };
}

/**
 * An operator who got `DATABASE_URL` wrong reads what and why in one line, and the process ends (a helper found
 * a stack trace, and "try again in a moment" with the cause dropped, for every kind of failure).
 */
describe.skipIf(skipWithoutPostgres())('PostgreSQL: a server that cannot open its database says why and exits', () => {
  const c = throwawayCluster();

  it('when nothing listens at the address, then exit 1 with the socket error named, and no stack', async () => {
    const url = new URL(c.cluster.url);
    url.port = '1';
    const { code, stderr } = await start(url.toString());
    expect(code).toBe(1);
    expect(stderr).toMatch(/^Agenda Médica não iniciou: o banco de dados de DATABASE_URL não pôde ser alcançado \(ECONNREFUSED/);
    expect(stderr).not.toMatch(/\n\s+at /);
  }, 60_000);

  it('when the database answers and refuses (no such database), then exit 1 with its message and SQLSTATE, and no stack', async () => {
    const url = new URL(c.cluster.url);
    url.pathname = '/nao_existe';
    const { code, stderr } = await start(url.toString());
    expect(code).toBe(1);
    expect(stderr).toMatch(/^Agenda Médica não iniciou: o banco de dados de DATABASE_URL recusou: .*nao_existe.* \(SQLSTATE 3D000\)/);
    expect(stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});
