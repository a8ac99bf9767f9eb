import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { AppError, StorageUnavailableError } from '../../src/core/errors.js';
import { MemoryStore } from '../../src/infra/storage/json/memory-store.js';
import { readZip } from '../../src/infra/zip-reader.js';
import { BackupService } from '../../src/services/backup.service.js';
import { silentLogger } from '../helpers/logger.js';
import { recordStorage } from '../helpers/record-storage.js';
import { tempDir } from '../helpers/tmp.js';
import { writeBombZip, type BombEntry } from '../helpers/zip-bomb.js';

const MIB = 1024 * 1024;

async function makeService(records = 3) {
  const store = new MemoryStore(['notas', 'outras']);
  await store.open();
  await store.transact((tx) => {
    for (let i = 0; i < records; i++) tx.put('notas', { id: `n${String(i).padStart(6, '0')}`, texto: `nota ${i}\ncom quebra, "aspas" e ç` } as never);
  });
  const backupDir = tempDir('agenda-records-');
  const service = new BackupService({
    storage: recordStorage(store), backupDir, keep: 20, clock: new ManualClock(new Date('2026-11-30T15:00:00Z')), timezone: 'America/Sao_Paulo', logger: silentLogger,
  });
  return { service, store, backupDir };
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** A format 2 archive of the given `notas.jsonl` bytes, its manifest telling their true size and checksum. */
function writeRecordsZip(file: string, notas: Buffer, registros: number): void {
  const manifest = {
    formatVersion: 2, criadoEm: '2026-11-30T12:00:00-03:00', automatico: false, driver: 'json', contagens: { notas: registros },
    arquivos: [{ nome: 'data/notas.jsonl', colecao: 'notas', registros, bytes: notas.length, sha256: sha(notas) }],
  };
  writeBombZip(file, [{ name: 'data/notas.jsonl', content: notas }, { name: 'manifest.json', content: JSON.stringify(manifest) }]);
}

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe('backup of records, format 2', () => {
  it('when 5,000 records are backed up, then each is one line of its collection, in id order, and they restore exactly', async () => {
    const { service, store, backupDir } = await makeService(5000);
    const before = [...store.values('notas')];
    const { nome } = await service.create({ automatic: false });
    const entries = await readZip(path.join(backupDir, nome), { maxEntries: 10, maxEntryBytes: 1e8, maxTotalBytes: 1e8, allowed: () => true });
    expect([...entries.keys()].sort()).toEqual(['data/notas.jsonl', 'data/outras.jsonl', 'manifest.json']);
    const lines = entries.get('data/notas.jsonl')!.toString().split('\n');
    expect(lines).toHaveLength(5001);
    expect(lines.slice(0, -1).map((l) => JSON.parse(l))).toEqual([...before].sort((a, b) => (a.id < b.id ? -1 : 1)));
    expect(entries.get('data/outras.jsonl')!.length).toBe(0);
    expect(JSON.parse(entries.get('manifest.json')!.toString())).toMatchObject({ formatVersion: 2, contagens: { notas: 5000, outras: 0 } });

    await store.transact((tx) => {
      tx.delete('notas', 'n000000');
      tx.put('outras', { id: 'o1' });
    });
    expect((await service.restore(path.join(backupDir, nome))).contagens).toEqual({ notas: 5000, outras: 0 });
    expect([...store.values('notas')].sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual([...before].sort((a, b) => (a.id < b.id ? -1 : 1)));
    expect(store.count('outras')).toBe(0);
  });

  it.each([
    ['a repeated id', Buffer.from('{"id":"a"}\n{"id":"a"}\n'), 2, /id repetido/],
    ['a record without id', Buffer.from('{"id":"a"}\n{"texto":"x"}\n'), 2, /sem id/],
    ['a line that is not JSON', Buffer.from('{"id":"a"}\n{"id":\n'), 2, /não é JSON/],
    ['a last record cut short', Buffer.from('{"id":"a"}\n{"id":"b"}'), 2, /no meio de um registro/],
    ['fewer records than the manifest says', Buffer.from('{"id":"a"}\n'), 2, /manifesto diz 2/],
  ])('when the entry holds %s (with a matching checksum), then 422 and nothing changes', async (_what, notas, registros, detail) => {
    const { service, store, backupDir } = await makeService();
    const file = path.join(backupDir, 'backup-20200101-000000.zip');
    writeRecordsZip(file, notas, registros);
    const error = await refusal(service.restore(file));
    expect(error).toMatchObject({ status: 422, type: '/problemas/backup-invalido' });
    expect(error.detail).toMatch(detail);
    expect(store.count('notas')).toBe(3);
    expect(readdirSync(backupDir)).toEqual(['backup-20200101-000000.zip']); // no safety backup
  });

  it('when an entry is one 200 MiB line whose checksum matches, then 422 at the record cap and RSS grows < 200 MB', async () => {
    const { service, store, backupDir } = await makeService();
    const file = path.join(backupDir, 'backup-20200101-000000.zip');
    const hash = createHash('sha256');
    const zeros = Buffer.alloc(MIB);
    for (let i = 0; i < 200; i++) hash.update(zeros);
    const manifest = {
      formatVersion: 2, criadoEm: '2026-11-30T12:00:00-03:00', automatico: false, driver: 'json', contagens: { notas: 1 },
      arquivos: [{ nome: 'data/notas.jsonl', colecao: 'notas', registros: 1, bytes: 200 * MIB, sha256: hash.digest('hex') }],
    };
    const entries: BombEntry[] = [{ name: 'data/notas.jsonl', zeros: 200 * MIB }, { name: 'manifest.json', content: JSON.stringify(manifest) }];
    writeBombZip(file, entries);
    const base = process.memoryUsage().rss;
    let peak = base;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
    let error: AppError;
    try {
      error = await refusal(service.restore(file));
    } finally {
      clearInterval(timer);
    }
    expect(error).toMatchObject({ status: 422, type: '/problemas/backup-invalido' });
    expect(error.detail).toMatch(/registro 0 de notas passa de/);
    expect(peak - base).toBeLessThan(200 * MIB);
    expect(store.count('notas')).toBe(3);
  }, 60_000);

  it.each([
    ['declares 5 GiB (over the limit)', [
      { name: 'data/notas.jsonl', zeros: MIB },
      { name: 'manifest.json', content: manifestOf(5 * 1024 * MIB) },
    ], /passa do limite/],
    ['inflates to 2 GiB while its headers and manifest claim 1,000 bytes', [
      { name: 'data/notas.jsonl', zeros: 2048 * MIB, claimedSize: 1000 },
      { name: 'manifest.json', content: manifestOf(1000) },
    ], /inválido|maior/],
  ] as [string, BombEntry[], RegExp][])('when a records entry %s, then 422 at once and nothing changes', async (_what, entries, detail) => {
    const { service, store, backupDir } = await makeService();
    const file = path.join(backupDir, 'backup-20200101-000000.zip');
    writeBombZip(file, entries);
    const started = performance.now();
    const error = await refusal(service.restore(file));
    expect(error).toMatchObject({ status: 422 });
    expect(error.detail).toMatch(detail);
    expect(performance.now() - started).toBeLessThan(5000); // refused before inflating what the archive holds
    expect(store.count('notas')).toBe(3);
  });
});

describe('backup when reading the records fails', () => {
  it('when the export fails halfway through a collection, then the backup fails, and no file or temp file is left', async () => {
    const store = new MemoryStore(['notas']);
    await store.open();
    await store.transact((tx) => {
      for (let i = 0; i < 2000; i++) tx.put('notas', { id: `n${i}` } as never);
    });
    const storage = recordStorage(store);
    const backupDir = tempDir('agenda-records-');
    const service = new BackupService({
      storage: {
        ...storage,
        // The database connection drops in the middle of the walk: the driver says so as the port does (503).
        exportRecords: async () => {
          const snapshot = await storage.exportRecords();
          return {
            ...snapshot,
            records: async function* (collection) {
              let n = 0;
              for await (const record of snapshot.records(collection)) {
                if (++n === 1500) throw new StorageUnavailableError('O banco de dados está indisponível no momento.', new Error('conexão perdida'));
                yield record;
              }
            },
          };
        },
      },
      backupDir, keep: 20, clock: new ManualClock(new Date('2026-11-30T15:00:00Z')), timezone: 'America/Sao_Paulo', logger: silentLogger,
    });
    const error = await refusal(service.create({ automatic: false }));
    expect(error.type).toBe('/problemas/armazenamento-indisponivel');
    expect(readdirSync(backupDir)).toEqual([]);
  });
});

/** A format 2 manifest for one `notas` entry of `bytes`, with a checksum that cannot match. */
function manifestOf(bytes: number): string {
  return JSON.stringify({
    formatVersion: 2, criadoEm: '2026-11-30T12:00:00-03:00', automatico: false, driver: 'json', contagens: { notas: 1 },
    arquivos: [{ nome: 'data/notas.jsonl', colecao: 'notas', registros: 1, bytes, sha256: '0'.repeat(64) }],
  });
}
