import { appendFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GENESIS } from '../../src/infra/audit/line-format.js';
import { DirectoryLock } from '../../src/infra/storage/json/lock.js';
import { tempDir } from '../helpers/tmp.js';
import { fill, isoAt, makeEntry, openLog } from './helpers.js';

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);
const writeLines = (file: string, content: string[]) => writeFileSync(file, content.map((l) => `${l}\n`).join(''));

afterEach(() => vi.restoreAllMocks());

describe('AuditLog chain and verification', () => {
  it('when entries are appended, then each line chains to the previous one and verify finds the log whole', async () => {
    const dir = tempDir('audit-');
    const log = openLog(dir);
    await log.open();
    await log.append([makeEntry(0), makeEntry(1)]);
    await log.append([makeEntry(2, { usuarioId: null, papel: null, acao: 'auth.falha', status: 401, pacienteIds: undefined })]);
    await log.close();

    const stored = lines(path.join(dir, '2026-11.jsonl')).map((line) => JSON.parse(line));
    expect(stored.map((e) => e.id)).toEqual(['e-0', 'e-1', 'e-2']);
    expect(stored[0].hashAnterior).toBe(GENESIS);
    expect(stored[1].hashAnterior).toBe(stored[0].hash);
    expect(stored[2]).toMatchObject({ usuarioId: null, papel: null, status: 401, hashAnterior: stored[1].hash });
    expect(await log.verify()).toEqual({ integra: true, entradas: 3 });
  });

  it('when a line is edited, then verify points at that file and line', async () => {
    const dir = tempDir('audit-');
    const log = openLog(dir);
    await log.open();
    await fill(log, 0, 10);
    const file = path.join(dir, '2026-11.jsonl');
    const content = lines(file);
    content[4] = content[4]!.replace('"status":200', '"status":201');
    writeLines(file, content);
    expect(await log.verify()).toEqual({ integra: false, entradas: 4, primeiraQuebra: { arquivo: '2026-11.jsonl', linha: 5 } });
  });

  it('when a line is deleted, then verify breaks at the line that now follows the gap', async () => {
    const dir = tempDir('audit-');
    const log = openLog(dir);
    await log.open();
    await fill(log, 0, 10);
    const file = path.join(dir, '2026-11.jsonl');
    const content = lines(file);
    content.splice(6, 1);
    writeLines(file, content);
    expect(await log.verify()).toMatchObject({ integra: false, primeiraQuebra: { arquivo: '2026-11.jsonl', linha: 7 } });
  });

  it('when two lines are swapped, then verify breaks at the first moved line', async () => {
    const dir = tempDir('audit-');
    const log = openLog(dir);
    await log.open();
    await fill(log, 0, 10);
    const file = path.join(dir, '2026-11.jsonl');
    const content = lines(file);
    [content[2], content[3]] = [content[3]!, content[2]!];
    writeLines(file, content);
    expect(await log.verify()).toMatchObject({ integra: false, primeiraQuebra: { arquivo: '2026-11.jsonl', linha: 3 } });
  });

  it('when a month file in the middle is deleted, then verify breaks at the first line of the next month', async () => {
    const dir = tempDir('audit-');
    const log = openLog(dir);
    await log.open();
    const month = (m: number, i: number) => makeEntry(i, { id: `m${m}-${i}`, em: `2026-${String(m).padStart(2, '0')}-10T10:00:0${i}-03:00` });
    for (const m of [9, 10, 11]) await log.append([month(m, 0), month(m, 1)]);
    expect(readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort()).toEqual(['2026-09.jsonl', '2026-10.jsonl', '2026-11.jsonl']);
    // The first line of a month chains to the last line of the month before.
    const [lastOfSeptember] = lines(path.join(dir, '2026-09.jsonl')).slice(-1).map((l) => JSON.parse(l));
    expect(JSON.parse(lines(path.join(dir, '2026-10.jsonl'))[0]!).hashAnterior).toBe(lastOfSeptember.hash);
    expect(await log.verify()).toEqual({ integra: true, entradas: 6 });

    rmSync(path.join(dir, '2026-10.jsonl'));
    expect(await log.verify()).toEqual({ integra: false, entradas: 2, primeiraQuebra: { arquivo: '2026-11.jsonl', linha: 1 } });
  });

  it('when an entry stamped in an earlier month arrives after a newer month file exists, then it goes to the newest file', async () => {
    const dir = tempDir('audit-');
    const log = openLog(dir);
    await log.open();
    await log.append([makeEntry(0, { id: 'dez', em: '2026-12-01T10:00:00-03:00' })]);
    await log.append([makeEntry(1, { id: 'nov-atrasada', em: '2026-11-30T23:59:00-03:00' })]);
    // 2026-11-30T23:59-03:00 is December in UTC anyway; an October one shows the rule.
    await log.append([makeEntry(2, { id: 'out-atrasada', em: '2026-10-31T10:00:00-03:00' })]);
    expect(readdirSync(dir).filter((f) => f.endsWith('.jsonl'))).toEqual(['2026-12.jsonl']);
    expect(await log.verify()).toEqual({ integra: true, entradas: 3 });
    const page = await log.query({ de: new Date('2026-10-01T00:00:00Z'), ate: new Date('2026-10-31T23:59:59Z'), limit: 10, offset: 0 });
    expect(page.items.map((e) => e.id)).toEqual(['out-atrasada']);
  });
});

describe('AuditLog month files', () => {
  it('when an entry is stamped late in the evening of the last day of a month in Brazil, then its month is the UTC one', async () => {
    const dir = tempDir('audit-');
    const log = openLog(dir);
    await log.open();
    await log.append([makeEntry(0, { em: '2026-11-30T20:59:59-03:00' }), makeEntry(1, { em: '2026-11-30T21:00:00-03:00' })]);
    expect(readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort()).toEqual(['2026-11.jsonl', '2026-12.jsonl']);
    expect(lines(path.join(dir, '2026-12.jsonl')).map((l) => JSON.parse(l).id)).toEqual(['e-1']);
  });
});

describe('AuditLog appends', () => {
  it('when many appends are made in the same tick, then they share one lock and one write, in order', async () => {
    const dir = tempDir('audit-');
    const log = openLog(dir);
    await log.open();
    const acquire = vi.spyOn(DirectoryLock.prototype, 'acquire');
    await Promise.all(Array.from({ length: 200 }, (_, i) => log.append([makeEntry(i)])));
    expect(acquire).toHaveBeenCalledTimes(1);
    const ids = lines(path.join(dir, '2026-11.jsonl')).map((l) => JSON.parse(l).id);
    expect(ids).toEqual(Array.from({ length: 200 }, (_, i) => `e-${i}`));
    expect(await log.verify()).toEqual({ integra: true, entradas: 200 });
  });

  it('when appends keep arriving while a batch is being written, then all land once and the chain holds', async () => {
    const dir = tempDir('audit-');
    const log = openLog(dir);
    await log.open();
    let next = 0;
    const worker = async () => {
      while (next < 300) await log.append([makeEntry(next++)]);
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const ids = lines(path.join(dir, '2026-11.jsonl')).map((l) => JSON.parse(l).id);
    expect(new Set(ids).size).toBe(300);
    expect(await log.verify()).toEqual({ integra: true, entradas: 300 });
  });

  it('when the last line was torn by a crash, then verify ignores it and the next append cuts it and chains to the last whole line', async () => {
    const dir = tempDir('audit-');
    const log = openLog(dir);
    await log.open();
    await fill(log, 0, 3);
    const file = path.join(dir, '2026-11.jsonl');
    appendFileSync(file, '{"id":"e-3","em":"2026-11-01T09:01:30-03:00","usuarioId":"u-');
    expect(await log.verify()).toEqual({ integra: true, entradas: 3 });
    expect((await log.query({ limit: 10, offset: 0 })).total).toBe(3);

    await log.append([makeEntry(4)]);
    const stored = lines(file).map((l) => JSON.parse(l));
    expect(stored.map((e) => e.id)).toEqual(['e-0', 'e-1', 'e-2', 'e-4']);
    expect(stored[3].hashAnterior).toBe(stored[2].hash);
    expect(await log.verify()).toEqual({ integra: true, entradas: 4 });
  });

  it('when appendMissing replays entries, then only ids not yet in the log are appended', async () => {
    const dir = tempDir('audit-');
    const log = openLog(dir);
    await log.open();
    await fill(log, 0, 5);
    const appended = await log.appendMissing([makeEntry(3), makeEntry(5), makeEntry(4), makeEntry(6), makeEntry(5)]);
    expect(appended).toBe(2);
    const ids = lines(path.join(dir, '2026-11.jsonl')).map((l) => JSON.parse(l).id);
    expect(ids).toEqual(['e-0', 'e-1', 'e-2', 'e-3', 'e-4', 'e-5', 'e-6']);
    expect(await log.verify()).toEqual({ integra: true, entradas: 7 });
  });

  it('when appendMissing replays an entry kept in the previous month file, then it is not appended again', async () => {
    const dir = tempDir('audit-');
    const log = openLog(dir);
    await log.open();
    await log.append([makeEntry(0, { em: isoAt(Date.UTC(2026, 9, 31, 12)) })]);
    await log.append([makeEntry(1)]);
    expect(await log.appendMissing([makeEntry(0), makeEntry(1), makeEntry(2)])).toBe(1);
    expect(await log.verify()).toEqual({ integra: true, entradas: 3 });
  });

  it('when an entry has no id or an instant without offset, then append refuses it and writes nothing', async () => {
    const dir = tempDir('audit-');
    const log = openLog(dir);
    await log.open();
    await expect(log.append([makeEntry(0, { em: 'ontem' })])).rejects.toThrow(TypeError);
    await expect(log.append([makeEntry(0, { id: '' })])).rejects.toThrow(TypeError);
    await expect(log.append([makeEntry(0, { em: '2026-11-01T10:00:00' })])).rejects.toThrow(TypeError);
    expect(await log.verify()).toEqual({ integra: true, entradas: 0 });
  });
});
