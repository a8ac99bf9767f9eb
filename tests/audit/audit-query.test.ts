import { copyFileSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mayHave } from '../../src/infra/audit/block-summary.js';
import { MonthIndex, sidecarName } from '../../src/infra/audit/month-index.js';
import type { AuditEntry, AuditQuery } from '../../src/infra/audit/types.js';
import { silentLogger } from '../helpers/logger.js';
import { tempDir } from '../helpers/tmp.js';
import { fill, makeEntry, openLog } from './helpers.js';

const BASE = Date.UTC(2026, 10, 1, 12, 0, 0);

describe('AuditLog queries', () => {
  it('when filtering by usuario, paciente, acao and period, then matches come newest first with an exact total', async () => {
    const dir = tempDir('audit-');
    const log = openLog(dir);
    await log.open();
    await fill(log, 0, 100);
    const ids = (page: { items: AuditEntry[] }) => page.items.map((e) => e.id);

    const all = await log.query({ limit: 3, offset: 0 });
    expect(all).toMatchObject({ total: 100, limit: 3, offset: 0 });
    expect(ids(all)).toEqual(['e-99', 'e-98', 'e-97']);
    expect(all.items[0]).not.toHaveProperty('hash');

    // u-3 acts on i = 3, 23, 43, 63, 83.
    const byUser = await log.query({ usuarioId: 'u-3', limit: 2, offset: 1 });
    expect(byUser.total).toBe(5);
    expect(ids(byUser)).toEqual(['e-63', 'e-43']);

    // acao index 1 (paciente.listar) and u-1: i = 1, 41, 81 (i ≡ 1 mod 8 and mod 20 → mod 40).
    expect(ids(await log.query({ usuarioId: 'u-1', acao: 'paciente.listar', limit: 10, offset: 0 }))).toEqual(['e-81', 'e-41', 'e-1']);

    // p-14 is named by i = 14 (i % 5000) and i = 2 (2 * 7 = 14).
    expect(ids(await log.query({ pacienteId: 'p-14', limit: 10, offset: 0 }))).toEqual(['e-14', 'e-2']);

    const period = await log.query({ de: new Date(BASE + 10 * 30_000), ate: new Date(BASE + 19 * 30_000), limit: 100, offset: 0 });
    expect(period.total).toBe(10);
    expect(ids(period)[0]).toBe('e-19');

    const none = await log.query({ pacienteId: 'p-nunca', limit: 10, offset: 0 });
    expect(none).toEqual({ items: [], total: 0, limit: 10, offset: 0 });
  });

  it('when the offset runs past the matches, then the page is empty and the total still exact', async () => {
    const dir = tempDir('audit-');
    const log = openLog(dir);
    await log.open();
    await fill(log, 0, 40);
    expect(await log.query({ acao: 'auth.login', limit: 10, offset: 50 })).toMatchObject({ items: [], total: 5 });
  });

  it('when another AuditLog appends to the same directory, then a query sees its entries', async () => {
    const dir = tempDir('audit-');
    const reader = openLog(dir);
    const writer = openLog(dir);
    await reader.open();
    await writer.open();
    await fill(writer, 0, 10);
    expect((await reader.query({ limit: 1, offset: 0 })).total).toBe(10);
    await fill(writer, 10, 12);
    await fill(reader, 12, 13);
    expect((await reader.query({ limit: 1, offset: 0 })).items[0]!.id).toBe('e-12');
    expect((await writer.query({ limit: 20, offset: 0 })).total).toBe(13);
    expect(await reader.verify()).toEqual({ integra: true, entradas: 13 });
  });
});

describe('AuditLog block index over 50,000 entries', () => {
  const N = 50_000;
  const RARE = 'p-raro';
  const rareAt = [7, 20_001, 49_990];
  const make = (i: number) => {
    if (rareAt.includes(i)) return makeEntry(i, { pacienteIds: [RARE, 'p-1'] });
    // A paciente named all through the month (about 40 times per block): counted from the index.
    if (i % 100 === 0) return makeEntry(i, { pacienteIds: ['p-frequente', `p-${i % 5000}`] });
    return makeEntry(i);
  };

  let newestFirst: AuditEntry[] | undefined;

  /** What a query must answer, computed the slow way over the generated entries. */
  function expected(q: AuditQuery): { ids: string[]; total: number } {
    newestFirst ??= Array.from({ length: N }, (_, i) => make(N - 1 - i));
    const matching: string[] = [];
    for (const e of newestFirst) {
      const t = Date.parse(e.em);
      if (q.usuarioId && e.usuarioId !== q.usuarioId) continue;
      if (q.acao && e.acao !== q.acao) continue;
      if (q.pacienteId && !e.pacienteIds?.includes(q.pacienteId)) continue;
      if ((q.de && t < q.de.getTime()) || (q.ate && t > q.ate.getTime())) continue;
      matching.push(e.id);
    }
    return { ids: matching.slice(q.offset, q.offset + q.limit), total: matching.length };
  }

  const queries: AuditQuery[] = [
    { pacienteId: RARE, limit: 10, offset: 0 },
    { pacienteId: 'p-1', limit: 5, offset: 3 },
    { pacienteId: 'p-frequente', limit: 10, offset: 205 },
    { usuarioId: 'u-7', limit: 20, offset: 1_000 },
    { acao: 'consulta.cancelar', usuarioId: 'u-3', limit: 5, offset: 0 },
    { acao: 'paciente.ler', limit: 10, offset: 4_000 },
    { de: new Date(BASE + 12_345 * 30_000), ate: new Date(BASE + 30_000 * 30_000), limit: 5, offset: 17_000 },
    { limit: 7, offset: 49_995 },
  ];

  async function expectAnswers(dir: string): Promise<void> {
    const log = openLog(dir);
    await log.open();
    for (const q of queries) {
      const page = await log.query(q);
      const want = expected(q);
      expect({ q, ids: page.items.map((e) => e.id), total: page.total }).toEqual({ q, ...want });
    }
    await log.close();
  }

  it('when queried through the index, after a restart, without the sidecar and with a stale one, then answers match a full scan', async () => {
    const dir = tempDir('audit-');
    const log = openLog(dir);
    await log.open();
    await fill(log, 0, 30_000, make);
    await log.close();
    const sidecar = path.join(dir, sidecarName('2026-11.jsonl'));
    const lagging = path.join(dir, 'lagging.idx.json');
    copyFileSync(sidecar, lagging); // a sidecar that stops at 30,000 entries

    const more = openLog(dir);
    await more.open();
    await fill(more, 30_000, N, make);
    await more.close();

    // The index really rules blocks out: the rare paciente's bloom/count says "maybe" in few blocks.
    const index = await MonthIndex.load(dir, '2026-11.jsonl', silentLogger);
    await index.catchUp();
    const blocks = index.blocks();
    expect(blocks.length).toBeGreaterThanOrEqual(12);
    expect(blocks.filter((b) => mayHave(b.paciente, RARE)).length).toBeLessThanOrEqual(5);

    await expectAnswers(dir); // sidecar as saved
    rmSync(sidecar);
    await expectAnswers(dir); // rebuilt from the .jsonl
    expect(existsSync(sidecar)).toBe(true);
    rmSync(sidecar);
    const warmed = openLog(dir);
    await warmed.warmUp(); // rebuilt ahead of the first query
    expect(existsSync(sidecar)).toBe(true);
    copyFileSync(lagging, sidecar);
    await expectAnswers(dir); // a lagging sidecar: the rest is read from the file

    // A sidecar of another log whose lines have the same lengths (so every offset lines up) but other
    // users and no rare paciente: only its recorded last hash gives it away.
    const other = tempDir('audit-other-');
    const otherLog = openLog(other);
    await otherLog.open();
    await fill(otherLog, 0, N, (i) => makeEntry(i, { usuarioId: `x-${i % 20}`, pacienteIds: ['p-xxxx', 'p-1'] }));
    await otherLog.close();
    copyFileSync(path.join(other, sidecarName('2026-11.jsonl')), sidecar);
    await expectAnswers(dir);
  }, 120_000);
});
