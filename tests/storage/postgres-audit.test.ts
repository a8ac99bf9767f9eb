import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { StorageUnavailableError } from '../../src/core/errors.js';
import { GENESIS } from '../../src/infra/audit/line-format.js';
import { PgAuditLog } from '../../src/infra/storage/postgres/audit-log.js';
import { createPool } from '../../src/infra/storage/postgres/pool.js';
import { AUDIT_LOCK_KEY } from '../../src/infra/storage/postgres/schema.js';
import type { AuditEntry } from '../../src/repositories/audit-trail.js';
import { fill, makeEntry, openLog } from '../audit/helpers.js';
import { pgCluster, pgTrail } from '../audit/pg-trail.js';
import { silentLogger } from '../helpers/logger.js';
import { asSuperuser, skipWithoutPostgres } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';

/** The audit trail in PostgreSQL: what only a database shows (several processes, the trigger, tampering, loss). */

/** Changes rows behind the trigger's back, as someone with the rights to disable it could. */
function tamper(url: string, sql: string, values: unknown[] = []): Promise<void> {
  return asSuperuser(url, async (client) => {
    await client.query('BEGIN');
    await client.query('ALTER TABLE auditoria DISABLE TRIGGER auditoria_somente_inclusao');
    await client.query(sql, values);
    await client.query('ALTER TABLE auditoria ENABLE TRIGGER auditoria_somente_inclusao');
    await client.query('COMMIT');
  });
}

const sqlError = (promise: Promise<unknown>) => promise.then(() => undefined, (e: unknown) => e as { code?: string; message: string });

describe.skipIf(skipWithoutPostgres())('audit trail in PostgreSQL', () => {
  beforeAll(async () => {
    await pgCluster();
  }, 120_000);

  it('when two processes append 200 entries each at the same time, then the table holds one unbroken chain with every entry once', async () => {
    const a = await pgTrail();
    const b = await pgTrail(a.url);
    const writer = async (trail: PgAuditLog, from: number) => {
      // 20 batches of 10, up to 4 in flight: batches of both processes contend for the chain's lock.
      const batches = Array.from({ length: 20 }, (_, k) => Array.from({ length: 10 }, (_, i) => makeEntry(from + k * 10 + i)));
      for (let k = 0; k < batches.length; k += 4) await Promise.all(batches.slice(k, k + 4).map((batch) => trail.append(batch)));
    };
    await Promise.all([writer(a.trail, 0), writer(b.trail, 200)]);

    expect(await a.trail.verify()).toEqual({ integra: true, entradas: 400 });
    const rows = await asSuperuser(a.url, async (c) =>
      (await c.query<{ seq: string; id: string; hash_anterior: string; hash: string }>('SELECT seq, id, hash_anterior, hash FROM auditoria ORDER BY seq')).rows,
    );
    expect(rows).toHaveLength(400);
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set(Array.from({ length: 400 }, (_, i) => `e-${i}`)));
    rows.forEach((row, i) => expect(row.hash_anterior, `seq ${row.seq}`).toBe(i === 0 ? GENESIS : rows[i - 1]!.hash));
    // The two processes really interleaved: a chain built by one after the other would not show this.
    const owner = rows.map((r) => (Number(r.id.slice(2)) < 200 ? 'a' : 'b'));
    expect(owner.some((o, i) => i > 0 && o !== owner[i - 1] && owner.indexOf(o) < i - 1)).toBe(true);
    expect((await b.trail.query({ limit: 1, offset: 0 })).total).toBe(400);
  }, 120_000);

  it('when the same entries go to the month files and to the table, then each row holds byte for byte the line of the file', async () => {
    const dir = tempDir('trilha-bytes-');
    const log = openLog(dir, { fsyncEachBatch: false });
    await log.open();
    const { trail, url } = await pgTrail();
    const make = (i: number): AuditEntry => makeEntry(i, i % 3 === 0 ? { recursoId: `ação-${i}-😀`, pacienteIds: undefined, usuarioId: null, papel: null } : {});
    await fill(log, 0, 30, make, 7);
    await log.close();
    for (let i = 0; i < 30; i += 7) await trail.append(Array.from({ length: Math.min(7, 30 - i) }, (_, k) => make(i + k)));
    const fileLines = readFileSync(path.join(dir, '2026-11.jsonl'), 'utf8').split('\n').filter(Boolean);
    const rows = await asSuperuser(url, async (c) => (await c.query<{ linha: string }>('SELECT linha::text AS linha FROM auditoria ORDER BY seq')).rows);
    expect(rows.map((r) => r.linha)).toEqual(fileLines);
  }, 60_000);

  describe('the table is append-only', () => {
    it('when a role tries UPDATE, DELETE or TRUNCATE, then the trigger refuses and nothing changes', async () => {
      const { trail, url } = await pgTrail();
      await trail.append([makeEntry(0), makeEntry(1)]);
      await asSuperuser(url, async (c) => {
        for (const sql of ["UPDATE auditoria SET acao = 'x' WHERE seq = 1", 'DELETE FROM auditoria WHERE seq = 2', 'TRUNCATE auditoria']) {
          expect(await sqlError(c.query(sql)), sql).toMatchObject({ code: '42501', message: expect.stringMatching(/só aceita inclusões/) });
        }
      });
      expect(await trail.verify()).toEqual({ integra: true, entradas: 2 });
      expect((await trail.query({ acao: 'x', limit: 5, offset: 0 })).total).toBe(0);
    });
  });

  describe('tampering shows in verify', () => {
    /** Ten entries in the table; returns the trail and its database. */
    async function tenEntries(verifyBatch?: number) {
      const made = await pgTrail(undefined, { verifyBatch });
      await made.trail.append(Array.from({ length: 10 }, (_, i) => makeEntry(i)));
      expect(await made.trail.verify()).toEqual({ integra: true, entradas: 10 });
      return made;
    }

    const cases: Record<string, { sql: string; seq: number }> = {
      // A field of the line changed, its stored hashes kept.
      'a row whose line was edited': { sql: `UPDATE auditoria SET linha = replace(linha::text, '"status":200', '"status":201')::json WHERE seq = 3`, seq: 3 },
      'a deleted row (the break is at the row after the gap)': { sql: 'DELETE FROM auditoria WHERE seq = 3', seq: 4 },
      'two rows whose entries were swapped': {
        sql: `UPDATE auditoria a SET linha = b.linha, hash = b.hash, hash_anterior = b.hash_anterior, em = b.em, usuario_id = b.usuario_id,
              acao = b.acao, paciente_ids = b.paciente_ids FROM auditoria b WHERE (a.seq, b.seq) IN ((3, 4), (4, 3))`,
        seq: 3,
      },
      // The line intact, a filter column changed: the entry would hide from a query by its user.
      'a row whose usuario_id no longer says what its line says': { sql: "UPDATE auditoria SET usuario_id = 'outra-pessoa' WHERE seq = 3", seq: 3 },
      'a row whose paciente_ids lost a paciente': { sql: 'UPDATE auditoria SET paciente_ids = paciente_ids[1:1] WHERE seq = 3', seq: 3 },
    };

    for (const [what, { sql, seq }] of Object.entries(cases)) {
      it(`when the table holds ${what}, then verify says it is not intact and points at seq ${seq}`, async () => {
        const { trail, url } = await tenEntries();
        await tamper(url, sql);
        expect(await trail.verify()).toEqual({ integra: false, entradas: 2, primeiraQuebra: { arquivo: 'auditoria', linha: seq } });
      });
    }

    it('when verify reads in batches of 3 and the break is in the third batch, then it still finds it, and a whole trail of exact batches is intact', async () => {
      const { trail, url } = await tenEntries(3);
      await tamper(url, `UPDATE auditoria SET linha = replace(linha::text, '"ip":"10.0.0.1"', '"ip":"10.0.0.2"')::json WHERE seq = 8`);
      expect(await trail.verify()).toEqual({ integra: false, entradas: 7, primeiraQuebra: { arquivo: 'auditoria', linha: 8 } });
      const nine = await pgTrail(undefined, { verifyBatch: 3 });
      await nine.trail.append(Array.from({ length: 9 }, (_, i) => makeEntry(i)));
      expect(await nine.trail.verify()).toEqual({ integra: true, entradas: 9 });
    });
  });

  describe('connection loss', () => {
    it("when an append's connection is killed while it waits for the chain's lock, then it runs again on a fresh one and the entry is kept once", async () => {
      const { trail, url } = await pgTrail();
      await trail.append([makeEntry(0)]);
      await asSuperuser(url, async (admin) => {
        await admin.query('SELECT pg_advisory_lock($1)', [AUDIT_LOCK_KEY.toString()]);
        const appended = trail.append([makeEntry(1)]);
        // Wait (on the database's own word) until the append is queued behind the lock, then end its backend.
        let waiting: string | undefined;
        while (!waiting) {
          const { rows } = await admin.query<{ pid: string }>(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory' AND application_name = 'auditoria-teste'",
          );
          waiting = rows[0]?.pid;
        }
        expect((await admin.query('SELECT pg_terminate_backend($1) AS ok', [waiting])).rows[0].ok).toBe(true);
        await admin.query('SELECT pg_advisory_unlock($1)', [AUDIT_LOCK_KEY.toString()]);
        await appended;
      });
      expect((await trail.query({ limit: 10, offset: 0 })).items.map((e) => e.id)).toEqual(['e-1', 'e-0']);
      expect(await trail.verify()).toEqual({ integra: true, entradas: 2 });
    }, 60_000);

    it('when the database cannot be reached, then append, appendMissing, query and verify fail with the 503 storage problem', async () => {
      // A port nothing listens on: the kernel's pick, let go at once.
      const port = await new Promise<number>((resolve) => {
        const server = net.createServer().listen(0, '127.0.0.1', () => {
          const { port: free } = server.address() as net.AddressInfo;
          server.close(() => resolve(free));
        });
      });
      const pool = createPool({ url: `postgres://postgres@127.0.0.1:${port + 1}/ninguem`, logger: silentLogger });
      try {
        const trail = new PgAuditLog({ pool, logger: silentLogger });
        const outcomes = await Promise.all([
          sqlError(trail.open()),
          sqlError(trail.append([makeEntry(0)])),
          sqlError(trail.appendMissing([makeEntry(1)])),
          sqlError(trail.query({ limit: 5, offset: 0 })),
          sqlError(trail.verify()),
        ]);
        for (const outcome of outcomes) {
          expect(outcome).toBeInstanceOf(StorageUnavailableError);
          expect(outcome).toMatchObject({ status: 503, code: 'ARMAZENAMENTO_INDISPONIVEL' });
        }
      } finally {
        await pool.end();
      }
    }, 60_000);
  });
});
