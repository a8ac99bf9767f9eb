import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { StorageUnavailableError } from '../../src/core/errors.js';
import * as fsp from 'node:fs/promises';
import { FileStore, JOURNAL_FILE, StorageCorruptError, type StorageFs } from '../../src/infra/storage/json/file-store.js';
import { LOCK_NAME, RESTORE_LOCK_NAME } from '../../src/infra/storage/json/lock.js';
import type { Entity } from '../../src/infra/storage/json/store.js';
import { faultyFs } from '../helpers/faults.js';
import { silentLogger } from '../helpers/logger.js';
import { tempDir } from '../helpers/tmp.js';

interface Item extends Entity {
  n: number;
}

function makeStore(dir: string, extra: Partial<ConstructorParameters<typeof FileStore>[0]> = {}): FileStore {
  return new FileStore({ dir, collections: ['itens', 'outros'], logger: silentLogger, staleMs: 2000, ...extra });
}

async function reopen(dir: string): Promise<FileStore> {
  const store = makeStore(dir);
  await store.open();
  return store;
}

describe('FileStore', () => {
  it('when a restore dies after its intent and another process writes next, then that process finishes the restore first: its write lands on the restored data and a later start keeps it', async () => {
    const dir = tempDir();
    const other = makeStore(dir);
    await other.open();
    await other.transact((tx) => tx.put('itens', { id: 'antes', n: 1 } as Item));
    // The restoring process dies between its intent and its renames (here: each rename of a ready file fails).
    const dying = makeStore(dir, {
      fs: { ...fsp, rename: (async (from: string, to: string) => (String(from).endsWith('.restore') ? Promise.reject(new Error('morreu')) : fsp.rename(from, to))) as typeof fsp.rename },
    });
    await dying.open();
    await expect(dying.replaceAll(async () => new Map([['itens', [{ id: 'restaurado', n: 2 } as Item]], ['outros', []]]))).rejects.toThrow('morreu');
    expect(existsSync(path.join(dir, 'restore.intent'))).toBe(true);

    // The other process takes the lock next and writes.
    const resets: string[] = [];
    other.subscribe({ change: () => undefined, reset: (collection) => resets.push(collection) });
    await other.transact((tx) => tx.put('itens', { id: 'depois', n: 3 } as Item));
    expect(existsSync(path.join(dir, 'restore.intent'))).toBe(false);
    expect(resets).toContain('itens');
    expect(other.get<Item>('itens', 'antes')).toBeUndefined();
    expect([other.get<Item>('itens', 'restaurado')?.n, other.get<Item>('itens', 'depois')?.n]).toEqual([2, 3]);
    // A later start finds nothing left to roll forward over the write.
    const later = await reopen(dir);
    expect(['antes', 'restaurado', 'depois'].map((id) => later.get<Item>('itens', id)?.n)).toEqual([undefined, 2, 3]);
  });

  it('when many writes run at once, then every one is on disk after reopening', async () => {
    const dir = tempDir();
    const store = makeStore(dir);
    await store.open();
    await Promise.all(
      Array.from({ length: 500 }, (_, n) => store.transact((tx) => tx.put('itens', { id: `i${n}`, n } as Item))),
    );
    // No close(): what is acknowledged must already be durable without a checkpoint.
    const again = await reopen(dir);
    expect(again.count('itens')).toBe(500);
    expect(again.get<Item>('itens', 'i499')?.n).toBe(499);
  });

  it('when concurrent transactions check-then-write the same key, then exactly one wins', async () => {
    const store = makeStore(tempDir());
    await store.open();
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, (_, n) =>
        store.transact((tx) => {
          if (store.get('itens', 'unico')) throw new Error('ocupado');
          tx.put('itens', { id: 'unico', n } as Item);
        }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(store.count('itens')).toBe(1);
  });

  it('when the work throws, then none of its writes stay, in memory or on disk', async () => {
    const dir = tempDir();
    const store = makeStore(dir);
    await store.open();
    await expect(
      store.transact((tx) => {
        tx.put('itens', { id: 'a', n: 1 } as Item);
        throw new Error('regra violada');
      }),
    ).rejects.toThrow('regra violada');
    expect(store.get('itens', 'a')).toBeUndefined();
    expect((await reopen(dir)).get('itens', 'a')).toBeUndefined();
  });

  it('when units of work await between their check and their write, then they still run one at a time', async () => {
    const dir = tempDir();
    const store = makeStore(dir);
    await store.open();
    // Each reads the counter, yields to the event loop, then writes counter + 1: interleaved, updates are lost.
    const increment = () =>
      store.transact(async (tx) => {
        const n = store.get<Item>('itens', 'contador')?.n ?? 0;
        await new Promise((resolve) => setImmediate(resolve));
        tx.put('itens', { id: 'contador', n: n + 1 } as Item);
      });
    await Promise.all(Array.from({ length: 50 }, increment));
    expect(store.get<Item>('itens', 'contador')?.n).toBe(50);
    expect((await reopen(dir)).get<Item>('itens', 'contador')?.n).toBe(50);
    // A unit of work that fails after awaiting leaves nothing behind.
    await expect(
      store.transact(async (tx) => {
        tx.put('itens', { id: 'b', n: 1 } as Item);
        await Promise.resolve();
        throw new Error('regra violada');
      }),
    ).rejects.toThrow('regra violada');
    expect(store.get('itens', 'b')).toBeUndefined();
  });

  it('when deleting, then the record is gone after reopening', async () => {
    const dir = tempDir();
    const store = makeStore(dir);
    await store.open();
    await store.transact((tx) => tx.put('itens', { id: 'a', n: 1 } as Item));
    await store.transact((tx) => tx.delete('itens', 'a'));
    expect((await reopen(dir)).count('itens')).toBe(0);
  });

  it('when the journal passes its bound, then a checkpoint folds it into the data files', async () => {
    const dir = tempDir();
    const store = makeStore(dir, { checkpointMinBytes: 2048 });
    await store.open();
    for (let n = 0; n < 60; n++) await store.transact((tx) => tx.put('itens', { id: `i${n}`, n } as Item));
    const data = JSON.parse(readFileSync(path.join(dir, 'itens.json'), 'utf8'));
    expect(data.generation).toBeGreaterThan(0);
    expect(data.records.length).toBeGreaterThan(0);
    expect(readFileSync(path.join(dir, JOURNAL_FILE)).length).toBeLessThan(4096);
    expect((await reopen(dir)).count('itens')).toBe(60);
  });

  it('when closed, then the journal is empty and the data files hold everything', async () => {
    const dir = tempDir();
    const store = makeStore(dir);
    await store.open();
    await store.transact((tx) => tx.put('itens', { id: 'a', n: 1 } as Item));
    await store.close();
    expect(readFileSync(path.join(dir, JOURNAL_FILE)).length).toBe(0);
    expect(JSON.parse(readFileSync(path.join(dir, 'itens.json'), 'utf8')).records).toEqual([{ id: 'a', n: 1 }]);
    await expect(store.transact(() => undefined)).rejects.toBeInstanceOf(StorageUnavailableError);
  });

  it('when a checkpoint was cut short after the data files, then journal lines are not applied twice', async () => {
    const dir = tempDir();
    const store = makeStore(dir);
    await store.open();
    await store.transact((tx) => tx.put('itens', { id: 'a', n: 1 } as Item));
    await store.transact((tx) => tx.delete('itens', 'a'));
    await store.transact((tx) => tx.put('itens', { id: 'a', n: 2 } as Item));
    const journal = readFileSync(path.join(dir, JOURNAL_FILE));
    await store.close(); // data files at generation 1, empty journal
    writeFileSync(path.join(dir, JOURNAL_FILE), journal); // as if the crash came before the journal was replaced
    const again = await reopen(dir);
    expect(again.get<Item>('itens', 'a')?.n).toBe(2);
    await again.transact((tx) => tx.put('itens', { id: 'b', n: 3 } as Item));
    expect((await reopen(dir)).count('itens')).toBe(2);
  });

  it('when a checkpoint fails half way, then later lines of any process still apply on top of the files it renamed', async () => {
    const dir = tempDir();
    const gate = failingRenames();
    const store = makeStore(dir, { fs: gate.fs, checkpointMinBytes: 512 });
    await store.open();
    // Another process, open since before the checkpoint: it knows the old generation.
    const other = makeStore(dir, { watchMs: 0 });
    await other.open();
    gate.failSecond = true; // itens.json is renamed into place with the new generation, outros.json fails
    await Promise.all(Array.from({ length: 20 }, (_, n) => store.transact((tx) => tx.put('itens', { id: `a${n}`, n } as Item))));
    await gate.failed;
    // The other process writes first: its line must not be tagged with the old generation (it would be skipped
    // behind the renamed itens.json when the files are read again).
    await other.transact((tx) => tx.put('itens', { id: 'outro-processo', n: 2 } as Item));
    await store.transact((tx) => tx.put('itens', { id: 'depois', n: 1 } as Item));
    await other.close();
    const again = await reopen(dir);
    expect(again.get<Item>('itens', 'outro-processo')?.n).toBe(2);
    expect(again.get<Item>('itens', 'depois')?.n).toBe(1);
    expect(again.count('itens')).toBe(22);
  });

  it('when the journal ends in a torn line, then it is dropped and the good lines are kept', async () => {
    const dir = tempDir();
    const store = makeStore(dir);
    await store.open();
    await store.transact((tx) => tx.put('itens', { id: 'a', n: 1 } as Item));
    const journal = path.join(dir, JOURNAL_FILE);
    const goodLength = readFileSync(journal).length;
    appendFileSync(journal, '0badc0de {"g":0,"t":1,"ops":[["put","itens",{"id":"b"');
    const again = await reopen(dir);
    expect(again.count('itens')).toBe(1);
    expect(readFileSync(journal).length).toBe(goodLength);
    await again.transact((tx) => tx.put('itens', { id: 'c', n: 3 } as Item));
    expect((await reopen(dir)).count('itens')).toBe(2);
  });

  it('when a line in the middle of the journal is damaged, then opening fails naming the journal', async () => {
    const dir = tempDir();
    const store = makeStore(dir);
    await store.open();
    await store.transact((tx) => tx.put('itens', { id: 'a', n: 1 } as Item));
    await store.transact((tx) => tx.put('itens', { id: 'b', n: 2 } as Item));
    const journal = path.join(dir, JOURNAL_FILE);
    const bytes = readFileSync(journal);
    bytes[12] = bytes[12] === 0x31 ? 0x32 : 0x31; // flip a digit inside the first line's JSON
    writeFileSync(journal, bytes);
    await expect(reopen(dir)).rejects.toThrow(StorageCorruptError);
    await expect(reopen(dir)).rejects.toThrow(journal);
    expect(readFileSync(journal)).toEqual(bytes);
  });

  it('when a data file holds the whole document on one line (as written before v2), then it loads, and the next checkpoint writes one record per line', async () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    const items = Array.from({ length: 3000 }, (_, i) => ({ id: `i${i}`, n: i, nota: 'x'.repeat(500) }));
    // 1.5 MB on one line: longer than the line reader's chunk.
    writeFileSync(path.join(dir, 'itens.json'), JSON.stringify({ format: 1, collection: 'itens', generation: 0, records: items }));
    const store = await reopen(dir);
    expect([...store.values<Item>('itens')]).toEqual(items);
    await store.transact((tx) => tx.put('itens', { id: 'novo', n: -1 } as Item));
    await store.checkpoint();
    await store.close();
    const lines = readFileSync(path.join(dir, 'itens.json'), 'utf8').split('\n');
    expect(lines[0]).toMatch(/^\{"format":1,"collection":"itens","generation":\d+,"records":\[$/);
    expect(lines).toHaveLength(items.length + 1 + 3); // header, records, "]}" and the final newline
    const again = await reopen(dir);
    expect(again.count('itens')).toBe(items.length + 1);
    await again.close();
  });

  it('when a data file is corrupt, then opening fails naming it and the file is left untouched', async () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'itens.json');
    writeFileSync(file, '{"format":1,"collection":"itens","generation":0,"records":[{"id":');
    await expect(reopen(dir)).rejects.toThrow(StorageCorruptError);
    await expect(reopen(dir)).rejects.toThrow(file);
    expect(readFileSync(file, 'utf8')).toBe('{"format":1,"collection":"itens","generation":0,"records":[{"id":');
  });

  it('when a corrupt data file holds personal data, then the error says where, never what (it reaches logs)', async () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    // Not the record-per-line layout, so it is parsed whole: V8's message would quote its first characters.
    writeFileSync(path.join(dir, 'itens.json'), 'Genoveva Quaresma 15350946056');
    const error = await reopen(dir).then(() => undefined, (e: unknown) => e as Error);
    expect(error).toBeInstanceOf(StorageCorruptError);
    expect(error!.message).toContain('(JSON inválido');
    expect(error!.message).not.toMatch(/Genoveva|15350946056/);
  });

  it('when temp files were left by a crash, then opening removes them', async () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'itens.json.tmp-12345-abcd0123'), '{"half":');
    writeFileSync(path.join(dir, 'notas.txt'), 'not ours');
    await reopen(dir);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(existsSync(path.join(dir, 'notas.txt'))).toBe(true);
  });

  it('when another process restores while one restore runs, then it is refused at once with 409, and may restore once the first ends', async () => {
    const dir = tempDir();
    const a = await reopen(dir);
    const b = await reopen(dir);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const restored = (id: string) => new Map([['itens', [{ id, n: 1 } as Item]], ['outros', []]]);
    const first = a.replaceAll(async () => {
      entered(); // a safety backup being written, say
      await gate;
      return restored('de-a');
    });
    await inside;
    const started = performance.now();
    // Before: b waited for the data lock and answered 503 "try again", which invites running the restore twice.
    await expect(b.replaceAll(async () => restored('de-b'))).rejects.toMatchObject({ status: 409, type: '/problemas/restauracao-em-andamento' });
    expect(performance.now() - started).toBeLessThan(1_000);
    release();
    await first;
    await b.replaceAll(async () => restored('de-b'));
    expect((await reopen(dir)).get('itens', 'de-b')).toBeDefined();
  });

  it('when a process died in the middle of a restore, then the next restore takes its restore lock over once stale', async () => {
    const dir = tempDir();
    const store = await reopen(dir);
    mkdirSync(path.join(dir, RESTORE_LOCK_NAME));
    await expect(store.replaceAll(async () => new Map())).rejects.toMatchObject({ status: 409 });
    const old = new Date(Date.now() - 60_000);
    utimesSync(path.join(dir, RESTORE_LOCK_NAME), old, old);
    await store.replaceAll(async () => new Map([['itens', [{ id: 'novo', n: 1 } as Item]], ['outros', []]]));
    expect(store.get('itens', 'novo')).toBeDefined();
    expect(existsSync(path.join(dir, RESTORE_LOCK_NAME))).toBe(false);
  });

  it('when a dead process left the lock behind, then it is recovered once stale', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, LOCK_NAME), { recursive: true });
    const old = new Date(Date.now() - 60_000);
    utimesSync(path.join(dir, LOCK_NAME), old, old);
    const store = await reopen(dir);
    await store.transact((tx) => tx.put('itens', { id: 'a', n: 1 } as Item));
    expect(store.count('itens')).toBe(1);
  });

  it('when a live process holds the lock, then a write waits and then answers storage unavailable', async () => {
    const dir = tempDir();
    const store = makeStore(dir, { lockWaitMs: 300 });
    await store.open();
    mkdirSync(path.join(dir, LOCK_NAME)); // fresh mtime: a live holder
    await expect(store.transact((tx) => tx.put('itens', { id: 'a', n: 1 } as Item))).rejects.toBeInstanceOf(
      StorageUnavailableError,
    );
    expect(store.count('itens')).toBe(0);
  });

  it('when another store on the same directory writes, then refresh() shows it', async () => {
    const dir = tempDir();
    const a = await reopen(dir);
    const b = await reopen(dir);
    await b.transact((tx) => tx.put('itens', { id: 'de-b', n: 1 } as Item));
    expect(a.get('itens', 'de-b')).toBeUndefined();
    a.refresh();
    expect(a.get('itens', 'de-b')).toBeDefined();
    await b.checkpoint(); // a new journal file: a sees it and reloads
    await b.transact((tx) => tx.put('itens', { id: 'de-b2', n: 2 } as Item));
    a.refresh();
    expect(a.count('itens')).toBe(2);
  });

  it('when the disk fails during a commit, then the batch is undone and later writes still work', async () => {
    const dir = tempDir();
    const { fs, control } = faultyFs('ENOSPC');
    const store = makeStore(dir, { fs });
    await store.open();
    control.failing = true;
    await expect(store.transact((tx) => tx.put('itens', { id: 'a', n: 1 } as Item))).rejects.toBeInstanceOf(
      StorageUnavailableError,
    );
    expect(store.get('itens', 'a')).toBeUndefined();
    control.failing = false;
    await store.transact((tx) => tx.put('itens', { id: 'b', n: 2 } as Item));
    const again = await reopen(dir);
    expect(again.get('itens', 'a')).toBeUndefined();
    expect(again.get('itens', 'b')).toBeDefined();
  });
});

/**
 * A storage `fs` seam that fails the second data-file rename after `failSecond` is set: a checkpoint that stops
 * half way, its first file already renamed into place.
 */
function failingRenames() {
  let failedResolve!: () => void;
  let dataRenames = 0;
  const control = {
    failSecond: false,
    failed: new Promise<void>((resolve) => (failedResolve = resolve)),
    fs: {
      ...fsp,
      rename: (async (from: string, to: string) => {
        if (String(to).endsWith('.json')) {
          if (control.failSecond) dataRenames++;
          if (control.failSecond && dataRenames === 2) {
            setTimeout(failedResolve, 50);
            throw Object.assign(new Error('EIO: injected fault'), { code: 'EIO' });
          }
        }
        return fsp.rename(from, to);
      }) as typeof fsp.rename,
    } satisfies StorageFs,
  };
  return control;
}
