import { rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { StorageUnavailableError } from '../../src/core/errors.js';
import { DirectoryLock, LOCK_NAME } from '../../src/infra/storage/json/lock.js';
import { silentLogger } from '../helpers/logger.js';
import { tempDir } from '../helpers/tmp.js';

describe('DirectoryLock', () => {
  it('when the lock is taken away while held, then the holder is told instead of the process crashing', async () => {
    const dir = tempDir();
    const lock = new DirectoryLock(dir, { staleMs: 2000, waitMs: 500, logger: silentLogger });
    const release = await lock.acquire();
    expect(() => lock.assertIntact()).not.toThrow();
    rmSync(path.join(dir, LOCK_NAME), { recursive: true });
    // The holder refreshes the lock every second; the refresh finds it gone and reports it compromised.
    await expect.poll(() => {
      try {
        lock.assertIntact();
        return false;
      } catch (error) {
        return error instanceof StorageUnavailableError;
      }
    }, { timeout: 5000, interval: 100 }).toBe(true);
    await release();
  });

  it('when two holders in one process ask at once, then the second waits for the first', async () => {
    const dir = tempDir();
    const a = new DirectoryLock(dir, { staleMs: 2000, waitMs: 2000, logger: silentLogger });
    const b = new DirectoryLock(dir, { staleMs: 2000, waitMs: 2000, logger: silentLogger });
    const order: string[] = [];
    const releaseA = await a.acquire();
    const pending = b.acquire().then((release) => {
      order.push('b');
      return release;
    });
    await new Promise((r) => setTimeout(r, 100));
    order.push('a-release');
    await releaseA();
    await (await pending)();
    expect(order).toEqual(['a-release', 'b']);
  });
});
