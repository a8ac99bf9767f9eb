import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { AppError } from '../../src/core/errors.js';
import { MemoryStore } from '../../src/infra/storage/json/memory-store.js';
import { BackupService, type BackupServiceDeps } from '../../src/services/backup.service.js';
import { silentLogger } from '../helpers/logger.js';
import { recordStorage } from '../helpers/record-storage.js';
import { tempDir } from '../helpers/tmp.js';

const NOW = new Date('2026-11-30T15:00:00Z'); // 12:00 in São Paulo

async function makeService(overrides: Partial<BackupServiceDeps> = {}) {
  const store = new MemoryStore(['notas']);
  await store.open();
  await store.transact((tx) => {
    for (let i = 0; i < 3; i++) tx.put('notas', { id: `n${i}`, texto: `nota ${i}` } as never);
  });
  const backupDir = overrides.backupDir ?? tempDir('agenda-backup-');
  const service = new BackupService({
    storage: recordStorage(store), backupDir, keep: 20, clock: new ManualClock(NOW), timezone: 'America/Sao_Paulo', logger: silentLogger, ...overrides,
  });
  return { service, store, backupDir };
}

const backupFiles = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('backup-')).sort();

const problemOf = async (promise: Promise<unknown>) => {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
};

describe('BackupService names under concurrency', () => {
  it('when 8 backups run at once (in the same second), then 8 distinct files exist, named in creation order', async () => {
    const { service, backupDir } = await makeService();
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => service.create({ automatic: i % 2 === 0 })));
    const names = results.map((r) => r.nome);
    expect(new Set(names).size).toBe(8);
    expect(backupFiles(backupDir)).toHaveLength(8);
    for (const nome of names) expect(nome).toMatch(/^backup-20261130-1200\d\d(-auto)?\.zip$/);
    // Every second is used once, whatever the kind: names sort by time.
    const seconds = names.map((n) => n.slice(7, 22)).sort();
    expect(new Set(seconds).size).toBe(8);
    expect((await service.list()).map((b) => b.nome.slice(7, 22))).toEqual([...seconds].reverse());
  });

  it('when 8 backups run at once with keep=3, then none fails, the newest 3 remain, and the next backup leaves exactly 3', async () => {
    const { service, backupDir } = await makeService({ keep: 3 });
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => service.create({ automatic: false })));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const names = results.map((r) => (r as PromiseFulfilledResult<{ nome: string }>).value.nome).sort();
    // A prune never removes the backup its own run just made (its caller is about to report it): an older name that
    // finishes late stays until a later backup's prune. The newest 3 are there whatever the order.
    const files = backupFiles(backupDir);
    expect(files).toEqual(expect.arrayContaining(names.slice(-3)));
    expect(names).toEqual(expect.arrayContaining(files));
    const next = await service.create({ automatic: false });
    expect(backupFiles(backupDir)).toEqual([...names.slice(-2), next.nome].sort());
  });

  it('when two services (two processes) share the directory and back up at once, then no name is shared or lost', async () => {
    const first = await makeService({ keep: 100 });
    const second = await makeService({ keep: 100, backupDir: first.backupDir });
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? first : second).service.create({ automatic: false })));
    expect(new Set(results.map((r) => r.nome)).size).toBe(8);
    expect(backupFiles(first.backupDir)).toHaveLength(8);
  });

  it('when backups follow each other with keep=1 and a stopped clock, then each one is the survivor (a pruned name is never reused)', async () => {
    const { service, backupDir } = await makeService({ keep: 1 });
    let previous = '';
    for (let i = 0; i < 5; i++) {
      const { nome } = await service.create({ automatic: false });
      expect(nome > previous).toBe(true);
      expect(backupFiles(backupDir)).toEqual([nome]);
      previous = nome;
    }
  });
});

describe('BackupService encryption', () => {
  const key = randomBytes(32);

  it('when a key is set, then the backup is .zip.enc, holds no ZIP in clear, and restores with the same key', async () => {
    const { service, store, backupDir } = await makeService({ key });
    const info = await service.create({ automatic: false });
    expect(info).toMatchObject({ criptografado: true, automatico: false });
    expect(info.nome).toMatch(/^backup-20261130-120000\.zip\.enc$/);
    const bytes = readFileSync(path.join(backupDir, info.nome));
    expect(bytes.subarray(0, 7).toString('latin1')).toBe('AGMDBKP');
    expect(bytes.includes(Buffer.from('PK\x03\x04', 'latin1'))).toBe(false);
    expect(bytes.includes(Buffer.from('nota 1'))).toBe(false);
    expect((await service.list())[0]).toMatchObject({ nome: info.nome, criptografado: true });
    await store.transact((tx) => tx.delete('notas', 'n0'));
    const result = await service.restore(path.join(backupDir, info.nome));
    expect(result.contagens).toEqual({ notas: 3 });
    expect(store.count('notas')).toBe(3);
    // Nothing decrypted is left behind.
    expect(readdirSync(backupDir).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('when restored with another key, then 422 and nothing changes', async () => {
    const { service, backupDir } = await makeService({ key });
    const { nome } = await service.create({ automatic: false });
    const other = await makeService({ key: randomBytes(32), backupDir });
    await other.store.transact((tx) => tx.put('notas', { id: 'x', texto: 'outra' } as never));
    const error = await problemOf(other.service.restore(path.join(backupDir, nome)));
    expect(error.type).toBe('/problemas/backup-invalido');
    expect(error.detail).toMatch(/chave não confere ou o arquivo foi alterado/);
    expect(other.store.count('notas')).toBe(4);
  });

  it.each([
    ['the header (nonce)', (size: number) => 10 + 0 * size],
    ['the middle of the ciphertext', (size: number) => Math.floor(size / 2)],
    ['the tag', (size: number) => size - 3],
  ])('when one byte of %s is flipped, then 422 and no backup is taken', async (_where, at) => {
    const { service, backupDir } = await makeService({ key });
    const { nome } = await service.create({ automatic: false });
    const file = path.join(backupDir, nome);
    const bytes = readFileSync(file);
    bytes[at(bytes.length)]! ^= 0x01;
    writeFileSync(file, bytes);
    const error = await problemOf(service.restore(file));
    expect(error.status).toBe(422);
    expect(backupFiles(backupDir)).toEqual([nome]); // not even a safety backup
  });

  it('when an encrypted backup is restored without a key, then 422 says BACKUP_KEY is needed', async () => {
    const { service, backupDir } = await makeService({ key });
    const { nome } = await service.create({ automatic: false });
    const keyless = await makeService({ backupDir });
    const error = await problemOf(keyless.service.restore(path.join(backupDir, nome)));
    expect(error).toMatchObject({ status: 422, type: '/problemas/backup-invalido' });
    expect(error.detail).toMatch(/criptografado.*BACKUP_KEY/);
  });

  it('when a key is set, then a backup made in clear before can still be restored', async () => {
    const { service, backupDir } = await makeService();
    const { nome } = await service.create({ automatic: false });
    const keyed = await makeService({ key, backupDir });
    expect((await keyed.service.restore(path.join(backupDir, nome))).contagens).toEqual({ notas: 3 });
  });
});
