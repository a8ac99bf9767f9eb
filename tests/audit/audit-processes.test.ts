import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { exited, onLines, spawnTs } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';
import { makeEntry, openLog } from './helpers.js';

const APPENDER = 'tests/audit/fixtures/appender.ts';

const idsIn = (dir: string) =>
  readFileSync(path.join(dir, '2026-11.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line).id as string);

describe('AuditLog across processes', () => {
  it('when two processes append 500 entries each to one directory, then all 1,000 land once on one intact chain', async () => {
    const dir = tempDir('audit-');
    const a = spawnTs(APPENDER, [dir, 'a', '500']);
    const b = spawnTs(APPENDER, [dir, 'b', '500']);
    let errors = '';
    for (const child of [a, b]) child.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    const [ea, eb] = await Promise.all([exited(a), exited(b)]);
    expect(errors).toBe('');
    expect([ea.code, eb.code]).toEqual([0, 0]);

    const ids = idsIn(dir);
    expect(ids).toHaveLength(1000);
    expect(new Set(ids).size).toBe(1000);
    const log = openLog(dir);
    expect(await log.verify()).toEqual({ integra: true, entradas: 1000 });
    expect((await log.query({ usuarioId: 'u-b', limit: 1, offset: 0 })).total).toBe(500);
  }, 60_000);

  it('when an appender is killed mid-stream, then every acknowledged entry is there and the log goes on intact', async () => {
    const dir = tempDir('audit-');
    const child = spawnTs(APPENDER, [dir, 'k', '100000']);
    const acked: string[] = [];
    await new Promise<void>((resolve) => {
      onLines(child, (line) => {
        if (line.startsWith('ack ')) acked.push(line.slice(4));
        if (acked.length === 300) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    expect((await exited(child)).signal).toBe('SIGKILL');

    const present = new Set(idsIn(dir));
    expect(acked.filter((id) => !present.has(id))).toEqual([]);
    // If it died holding the lock, the lock goes stale after the fixture's 2 s and is taken over.
    const log = openLog(dir, { lockStaleMs: 2000 });
    await log.append([makeEntry(0, { id: 'depois' })]);
    const verification = await log.verify();
    expect(verification.integra).toBe(true);
    expect(verification.entradas).toBe(present.size + 1);
  }, 60_000);
});
