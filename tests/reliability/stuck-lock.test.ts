import { describe, expect, it } from 'vitest';
import { FileStore } from '../../src/infra/storage/json/file-store.js';
import { silentLogger } from '../helpers/logger.js';
import { exited, onLines, spawnTs } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';

describe('a lock held past stale by a stuck process', () => {
  it('when another process takes it over, then the stuck one cannot write and the data stays whole', async () => {
    const dir = tempDir();
    const child = spawnTs('tests/reliability/fixtures/stuck-writer.ts', [dir, '4000']);
    const lines: string[] = [];
    await new Promise<void>((resolve) =>
      onLines(child, (line) => {
        lines.push(line);
        if (line === 'holding') resolve();
      }),
    );
    // The stuck process holds the lock; after it goes stale (2 s) this process takes it over and writes.
    const started = Date.now();
    const store = new FileStore({ dir, collections: ['itens'], logger: silentLogger, staleMs: 2000, lockWaitMs: 10_000 });
    await store.open();
    await store.transact((tx) => tx.put('itens', { id: 'do-outro-processo' }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    await store.close();

    expect((await exited(child)).code).toBe(0);
    // Two guards stop the stuck writer: the lock's liveness check (it stalled past half the stale time) and,
    // behind it, the journal identity check before appending. Either alone keeps this test green; both gone, it fails.
    expect(lines.at(-1)).toMatch(/^refused /);

    const check = new FileStore({ dir, collections: ['itens'], logger: silentLogger, staleMs: 2000 });
    await check.open();
    expect(check.get('itens', 'do-outro-processo')).toBeDefined();
    expect(check.get('itens', 'do-processo-parado')).toBeUndefined();
    await check.close();
  }, 30_000);
});
