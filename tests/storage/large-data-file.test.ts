import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, exited } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';

/** Runs the fixture in its own Node process (with `global.gc`), so its memory figures are its own. */
async function runLargeLoad(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(ROOT, 'tests/storage/fixtures/large-load.ts'), ...args], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const { code } = await exited(child);
  return { code, stdout, stderr };
}

/**
 * V8 cannot make a string longer than 512 MiB, so a store that reads a data file into one string cannot open
 * a 669 MB `consultas.json` at all (100k bookings with long notes). The store reads data files line by line:
 * no size limit short of the disk, and memory proportional to the records, not to the file twice over.
 */
describe('storage: a data file larger than one string can be', () => {
  it('when consultas.json holds over 600 MB of records, then the store opens it, every record is there, and memory stays near the records’ own size', async ({ annotate }) => {
    const dir = tempDir();
    const result = await runLargeLoad([dir, '100000', '6200']);
    expect(result.code, result.stderr).toBe(0);
    const figures = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as {
      fileBytes: number; loaded: number; loadMs: number; heapUsed: number; maxRss: number; lastNoteChars: number;
    };
    await annotate(`arquivo de ${(figures.fileBytes / 2 ** 20).toFixed(0)} MiB carregado em ${figures.loadMs} ms; heap ${(figures.heapUsed / 2 ** 20).toFixed(0)} MiB, pico de RSS ${(figures.maxRss / 2 ** 20).toFixed(0)} MiB`);
    expect(figures.fileBytes).toBeGreaterThan(600 * 1024 * 1024);
    expect(figures.loaded).toBe(100_000);
    expect(figures.lastNoteChars).toBe(6200);
    // The records are ~the file's bytes (one-byte strings): the heap holds them once, and the peak never held a
    // second copy of the file (a whole-file string plus its parse would be over twice the file).
    expect(figures.heapUsed).toBeLessThan(figures.fileBytes * 1.3);
    expect(figures.maxRss).toBeLessThan(figures.fileBytes * 1.7);
  }, 300_000);
});
