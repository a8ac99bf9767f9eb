import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { AppError } from '../../src/core/errors.js';
import { MemoryStore } from '../../src/infra/storage/json/memory-store.js';
import { BackupService } from '../../src/services/backup.service.js';
import { silentLogger } from '../helpers/logger.js';
import { recordStorage } from '../helpers/record-storage.js';
import { tempDir } from '../helpers/tmp.js';
import { bombManifest, writeBombZip, type BombEntry } from '../helpers/zip-bomb.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

async function makeService() {
  const store = new MemoryStore(['notas']);
  await store.open();
  await store.transact((tx) => tx.put('notas', { id: 'n1', texto: 'antes' } as never));
  const backupDir = tempDir('agenda-bomb-');
  const service = new BackupService({
    storage: recordStorage(store), backupDir, keep: 20, clock: new ManualClock(new Date('2026-11-30T15:00:00Z')), timezone: 'America/Sao_Paulo', logger: silentLogger,
  });
  return { service, store, backupDir };
}

/** Runs `work` while sampling the process's RSS; returns the largest growth seen, in bytes. */
async function rssGrowth(work: () => Promise<unknown>): Promise<number> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, process.memoryUsage().rss) - base;
}

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe('restore of a decompression bomb', () => {
  const cases: [string, BombEntry[], RegExp][] = [
    [
      '1 GiB of zeros, sizes told honestly (the archive an attacker sent: 1 MB on disk)',
      [{ name: 'data/journal.wal', zeros: GIB }, { name: 'manifest.json', content: bombManifest('data/journal.wal', GIB) }],
      /limite/,
    ],
    [
      '200 MiB of zeros under the cap, with a manifest that declares them (checksum cannot match)',
      [{ name: 'data/journal.wal', zeros: 200 * MIB }, { name: 'manifest.json', content: bombManifest('data/journal.wal', 200 * MIB) }],
      /SHA-256/,
    ],
    [
      '2 GiB of zeros whose ZIP headers and manifest claim 1,000 bytes',
      [{ name: 'data/journal.wal', zeros: 2 * GIB, claimedSize: 1000 }, { name: 'manifest.json', content: bombManifest('data/journal.wal', 1000) }],
      /inválido|maior/,
    ],
    ['2 GiB of zeros and no manifest', [{ name: 'data/journal.wal', zeros: 2 * GIB }], /manifest\.json ausente/],
  ];

  it.each(cases)('when the archive holds %s, then 422, RSS grows < 200 MB and nothing changes', async (_what, entries, detail) => {
    const { service, store, backupDir } = await makeService();
    const file = path.join(backupDir, 'backup-20200101-000000.zip');
    writeBombZip(file, entries);
    let error: AppError | undefined;
    const growth = await rssGrowth(async () => (error = await refusal(service.restore(file))));
    expect(error).toMatchObject({ status: 422, type: '/problemas/backup-invalido' });
    expect(error!.detail).toMatch(detail);
    expect(growth).toBeLessThan(200 * MIB);
    expect(store.count('notas')).toBe(1);
    expect(readdirSync(backupDir)).toEqual(['backup-20200101-000000.zip']); // no safety backup, no temp file
  });

  it('when three restores are asked at once, then one runs and the other two get 409 at once', async () => {
    const { service, backupDir } = await makeService();
    const file = path.join(backupDir, 'backup-20200101-000000.zip');
    writeBombZip(file, [{ name: 'data/journal.wal', zeros: 200 * MIB }, { name: 'manifest.json', content: bombManifest('data/journal.wal', 200 * MIB) }]);
    let errors: AppError[] = [];
    const growth = await rssGrowth(async () => (errors = await Promise.all([1, 2, 3].map(() => refusal(service.restore(file))))));
    expect(errors.map((e) => e.status).sort()).toEqual([409, 409, 422]);
    expect(errors.find((e) => e.status === 409)).toMatchObject({ type: '/problemas/restauracao-em-andamento' });
    expect(growth).toBeLessThan(200 * MIB);
    // Once the first one is over, a restore may run again.
    expect((await refusal(service.restore(file))).status).toBe(422);
  });
});
