import { describe, expect, it } from 'vitest';
import { FileStore } from '../../src/infra/storage/json/file-store.js';
import type { Entity } from '../../src/infra/storage/json/store.js';
import { silentLogger } from '../helpers/logger.js';
import { exited, onLines, spawnTs } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';

const WRITER = 'tests/storage/fixtures/writer.ts';

async function load(dir: string): Promise<FileStore> {
  const store = new FileStore({ dir, collections: ['itens', 'contadores'], logger: silentLogger, staleMs: 2000 });
  await store.open();
  return store;
}

describe('FileStore across processes', () => {
  it('when two processes write the same collection at once, then nothing is lost or corrupted', async () => {
    const dir = tempDir();
    const count = 300;
    // A small checkpoint bound so both processes also checkpoint while the other writes.
    const env = { CHECKPOINT_BYTES: '20000' };
    const a = spawnTs(WRITER, [dir, 'a', String(count)], env);
    const b = spawnTs(WRITER, [dir, 'b', String(count)], env);
    let errors = '';
    for (const child of [a, b]) child.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    const [ea, eb] = await Promise.all([exited(a), exited(b)]);
    expect(errors).toBe('');
    expect([ea.code, eb.code]).toEqual([0, 0]);

    const store = await load(dir);
    expect(store.count('itens')).toBe(2 * count);
    // Each transaction read the counter and wrote it +1: a lost update would leave it short.
    expect(store.get<Entity & { valor: number }>('contadores', 'contador')?.valor).toBe(2 * count);
  }, 60_000);

  it('when a writer is killed with SIGKILL mid-write, then every acknowledged write survives', async () => {
    const dir = tempDir();
    for (let round = 0; round < 3; round++) {
      const child = spawnTs(WRITER, [dir, `r${round}`, '100000'], { CHECKPOINT_BYTES: '30000' });
      const acked: string[] = [];
      await new Promise<void>((resolve) => {
        onLines(child, (line) => {
          if (line.startsWith('ack ')) acked.push(line.slice(4));
          // Kill at a different depth each round, while writes and checkpoints are in flight.
          if (acked.length === 150 + round * 97) {
            child.kill('SIGKILL');
            resolve();
          }
        });
      });
      expect((await exited(child)).signal).toBe('SIGKILL');

      // The next open finds the lock of the dead process, waits until it is stale, and recovers.
      const store = await load(dir);
      const missing = acked.filter((id) => !store.get('itens', id));
      expect(missing).toEqual([]);
      const counter = store.get<Entity & { valor: number }>('contadores', 'contador')?.valor ?? 0;
      expect(counter).toBe(store.count('itens'));
      await store.close();
    }
  }, 90_000);
});
