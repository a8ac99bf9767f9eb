import { beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry, AuditQuery, AuditTrail } from '../../src/repositories/audit-trail.js';
import { skipWithoutPostgres } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';
import { isoAt, makeEntry, openLog } from './helpers.js';
import { pgCluster, pgTrail } from './pg-trail.js';

/**
 * The audit trail's contract (`repositories/audit-trail.ts`), run against both keepings: the month files
 * (`AuditLog`, a temp directory) and the database table (`PgAuditLog`, a throwaway database). The same entries
 * must come back the same way from both.
 */

const BASE = Date.UTC(2026, 10, 1, 12, 0, 0); // makeEntry(i) is at BASE + i × 30 s

/** What a query must answer, computed the slow way: newest first is the reverse of the order of appends. */
function expected(appended: AuditEntry[], q: AuditQuery): { ids: string[]; total: number } {
  const matching = [...appended].reverse().filter((e) => {
    const t = Date.parse(e.em);
    if (q.usuarioId !== undefined && e.usuarioId !== q.usuarioId) return false;
    if (q.acao !== undefined && e.acao !== q.acao) return false;
    if (q.pacienteId !== undefined && !e.pacienteIds?.includes(q.pacienteId)) return false;
    return !((q.de && t < q.de.getTime()) || (q.ate && t > q.ate.getTime()));
  });
  return { ids: matching.slice(q.offset, q.offset + q.limit).map((e) => e.id), total: matching.length };
}

function describeAuditTrailContract(name: string, make: () => Promise<AuditTrail>): void {
  describe(`audit trail contract: ${name}`, () => {
    it('when nothing was appended, then a query is empty and verify finds the trail whole', async () => {
      const trail = await make();
      expect(await trail.query({ limit: 10, offset: 0 })).toEqual({ items: [], total: 0, limit: 10, offset: 0 });
      expect(await trail.verify()).toEqual({ integra: true, entradas: 0 });
    });

    it('when entries are appended, then each comes back as given (without its hashes), newest first', async () => {
      const trail = await make();
      const first = [makeEntry(0), makeEntry(1, { usuarioId: null, papel: null, acao: 'auth.falha', status: 401, recursoId: undefined, pacienteIds: undefined })];
      await trail.append(first);
      // Text beyond ASCII (and beyond the BMP) keeps its bytes: the hash covers them.
      await trail.append([makeEntry(2, { recursoId: 'ação-Ü-😀', requestId: 'aspas "e" \\ barra' })]);
      const page = await trail.query({ limit: 10, offset: 0 });
      expect(page.total).toBe(3);
      expect(page.items.map((e) => e.id)).toEqual(['e-2', 'e-1', 'e-0']);
      expect(page.items[2]).toEqual(makeEntry(0));
      expect(page.items[0]).toEqual(makeEntry(2, { recursoId: 'ação-Ü-😀', requestId: 'aspas "e" \\ barra' }));
      expect(page.items[1]).toEqual({ id: 'e-1', em: first[1]!.em, usuarioId: null, papel: null, acao: 'auth.falha', recurso: 'paciente', status: 401, ip: '10.0.0.1', requestId: 'r-1' });
      for (const item of page.items) {
        expect(item).not.toHaveProperty('hash');
        expect(item).not.toHaveProperty('hashAnterior');
      }
      expect(await trail.verify()).toEqual({ integra: true, entradas: 3 });
    });

    it('when filtered by user, action, paciente, period or several at once, and paged, then the page and the exact total match a full scan', async () => {
      const trail = await make();
      const appended = Array.from({ length: 120 }, (_, i) => makeEntry(i, { pacienteIds: [`p-${i % 7}`, `p-${(i * 3) % 11}`] }));
      for (let i = 0; i < appended.length; i += 40) await trail.append(appended.slice(i, i + 40));
      const queries: AuditQuery[] = [
        { limit: 10, offset: 0 },
        { limit: 7, offset: 115 },
        { limit: 5, offset: 500 },
        { usuarioId: 'u-3', limit: 4, offset: 1 },
        { usuarioId: 'ninguem', limit: 4, offset: 0 },
        { acao: 'consulta.agendar', limit: 100, offset: 0 },
        { pacienteId: 'p-5', limit: 6, offset: 2 },
        { pacienteId: 'p-10', acao: 'paciente.ler', limit: 50, offset: 0 },
        { usuarioId: 'u-2', acao: 'consulta.agendar', limit: 50, offset: 0 },
        // Both bounds inclusive, to the millisecond.
        { de: new Date(BASE + 10 * 30_000), ate: new Date(BASE + 20 * 30_000), limit: 50, offset: 0 },
        { de: new Date(BASE + 10 * 30_000 + 1), ate: new Date(BASE + 20 * 30_000 - 1), limit: 50, offset: 0 },
        { de: new Date(isoAt(BASE + 50 * 30_000)), pacienteId: 'p-1', limit: 3, offset: 1 },
        { ate: new Date(BASE + 3 * 30_000), limit: 50, offset: 0 },
      ];
      for (const q of queries) {
        const page = await trail.query(q);
        expect({ q, ids: page.items.map((e) => e.id), total: page.total, limit: page.limit, offset: page.offset }).toEqual({
          q, ...expected(appended, q), limit: q.limit, offset: q.offset,
        });
      }
    });

    it('when appendMissing replays entries already in the trail, then only the new ones are appended, once', async () => {
      const trail = await make();
      await trail.append([makeEntry(0), makeEntry(1)]);
      expect(await trail.appendMissing([makeEntry(0), makeEntry(1)])).toBe(0);
      expect(await trail.appendMissing([makeEntry(1), makeEntry(2), makeEntry(2), makeEntry(3)])).toBe(2);
      expect(await trail.appendMissing([makeEntry(2), makeEntry(3)])).toBe(0);
      const page = await trail.query({ limit: 10, offset: 0 });
      expect(page.items.map((e) => e.id)).toEqual(['e-3', 'e-2', 'e-1', 'e-0']);
      expect(await trail.verify()).toEqual({ integra: true, entradas: 4 });
    });

    it('when many callers append in the same tick, then every entry is kept once, in call order, on one chain', async () => {
      const trail = await make();
      await Promise.all(Array.from({ length: 30 }, (_, i) => trail.append([makeEntry(2 * i), makeEntry(2 * i + 1)])));
      const page = await trail.query({ limit: 100, offset: 0 });
      expect(page.items.map((e) => e.id)).toEqual(Array.from({ length: 60 }, (_, i) => `e-${59 - i}`));
      expect(await trail.verify()).toEqual({ integra: true, entradas: 60 });
    });

    it('when an entry has no offset in em, then its append is refused and the others of the same tick are kept', async () => {
      const trail = await make();
      const bad = trail.append([makeEntry(1, { em: '2026-11-01T12:00:00' })]);
      const good = trail.append([makeEntry(2)]);
      await expect(bad).rejects.toThrow(TypeError);
      await good;
      expect((await trail.query({ limit: 10, offset: 0 })).items.map((e) => e.id)).toEqual(['e-2']);
    });

    it('when the trail is closed, then an append is refused', async () => {
      const trail = await make();
      await trail.append([makeEntry(0)]);
      await trail.close();
      await expect(trail.append([makeEntry(1)])).rejects.toThrow();
    });
  });
}

describeAuditTrailContract('AuditLog (month files)', async () => {
  const log = openLog(tempDir('trilha-'), { fsyncEachBatch: false });
  await log.open();
  return log;
});

describe.skipIf(skipWithoutPostgres())('PostgreSQL', () => {
  beforeAll(async () => {
    await pgCluster();
  }, 120_000);

  describeAuditTrailContract('PgAuditLog (table auditoria)', async () => (await pgTrail()).trail);
});
