import { createRequire } from 'node:module';
import pg from 'pg';
import { describe, expect, it, vi } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import { inlined, literalsOf, quoteLiteral } from '../../src/infra/storage/postgres/batching.js';
import { isRetryable, isStalePrepared } from '../../src/infra/storage/postgres/errors.js';
import { PreparedStatements } from '../../src/infra/storage/postgres/prepared.js';
import { createReads } from '../../src/infra/storage/postgres/reads.js';
import { CONSULTA_MEDICO_LOCK_CLASS, QUEUE_BUCKET_MS } from '../../src/infra/storage/postgres/schema.js';
import { PgStorage } from '../../src/infra/storage/postgres/pg-storage.js';
import { PgUnitOfWork } from '../../src/infra/storage/postgres/unit-of-work.js';
import { manyRows, removeManySql, rowValues, tableOf, upsertManySql } from '../../src/infra/storage/postgres/tables.js';
import { COLLECTIONS } from '../../src/repositories/collections.js';
import type { Change, UnitOfWork } from '../../src/repositories/port.js';
import { silentLogger } from '../helpers/logger.js';
import { throwawayCluster } from '../helpers/cluster.js';
import { asSuperuser, skipWithoutPostgres } from '../helpers/postgres.js';
import { consulta, feriado, idempotency, listaEspera, medico, paciente, sessao, staged, usuario } from './port-fixtures.js';

/**
 * Round trips shared (issue 12's bookings target): statements of one moment sent as one query string with their
 * values written in as literals, and `run(work, { shared: true })` grouping works into one transaction.
 */

/** Values a hostile client could send, each of which must reach the database as exactly this text. */
const HOSTILE = [
  "'; DROP TABLE consultas; --",
  "O'Brien",
  'back\\slash \\\\ and \\x41',
  "E'\\'' --",
  '$1 $2 $$ dollar $$',
  'ünïcødé çãõ 💉',
  '\u202e bidi \u202c',
  'line\nbreak\ttab\r',
  '',
  '{"json": [1, 2, "x"]}',
];

describe('inlined statements', () => {
  it('writes each value as a quoted literal and leaves the rest of the text alone', () => {
    expect(inlined({ sql: 'SELECT $1, $2, $10', values: ['a', 2, null, null, null, null, null, null, null, true] })).toBe("SELECT 'a', '2', 'true'");
    expect(inlined({ sql: 'SELECT 1' })).toBe('SELECT 1');
    // pg's array text escapes the quote with a backslash, so the literal takes the E'' form with it doubled.
    expect(inlined({ sql: 'SELECT $1::text[]', values: [['a', 'b"c']] })).toBe(String.raw`SELECT  E'{"a","b\\"c"}'::text[]`);
  });

  it("quotes exactly as pg's escapeLiteral (libpq's PQescapeLiteral) does, for hostile and random text", () => {
    const { escapeLiteral } = createRequire(import.meta.url)('pg/lib/utils.js') as { escapeLiteral(text: string): string };
    const alphabet = ["'", '\\', '"', 'a', 'é', '💉', '\n', ' ', 'E', '$', ';'];
    let seed = 7;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const texts = [...HOSTILE, "''", '\\\\', "\\'", 'x'.repeat(5_000) + "'" + '\\'];
    for (let i = 0; i < 2_000; i++) texts.push(Array.from({ length: Math.floor(random() * 12) }, () => alphabet[Math.floor(random() * alphabet.length)]).join(''));
    for (const text of texts) expect(quoteLiteral(text)).toBe(escapeLiteral(text));
  });

  it('refuses what cannot be a literal: a NUL, bytes, a missing value', () => {
    expect(inlined({ sql: 'SELECT $1', values: ['a\u0000b'] })).toBeUndefined();
    expect(inlined({ sql: 'SELECT $1', values: [Buffer.from('x')] })).toBeUndefined();
    expect(inlined({ sql: 'SELECT $1, $2', values: ['a'] })).toBeUndefined();
  });
});

describe.skipIf(skipWithoutPostgres())('PostgreSQL: statements batched, works grouped (throwaway cluster)', () => {
  const pg15 = throwawayCluster();

  async function open(url?: string): Promise<PgStorage> {
    const storage = pg15.track(new PgStorage({ url: url ?? (await pg15.database('lotes')), logger: silentLogger, poolMax: 4 }));
    await storage.open();
    return storage;
  }

  /** A médico and `n` pacientes (CPFs from `cpfBase`), stored. */
  async function clinicOf(storage: PgStorage, n: number, cpfBase: number) {
    const m = medico();
    const ps = Array.from({ length: n }, (_, i) => paciente({ cpf: String(cpfBase + i) }));
    await storage.run(async (tx) => {
      await tx.medicos.save(m);
      for (const p of ps) await tx.pacientes.save(p);
    });
    return { m, ps };
  }

  /** A booking as the worker makes one, in a shared unit of work: refused when the médico's slot is taken. */
  const bookShared = (storage: PgStorage, c: ReturnType<typeof consulta>) =>
    storage.run(
      async (tx: UnitOfWork) => {
        if (await tx.consultas.medicoConflict(c.medicoId, Date.parse(c.inicio), Date.parse(c.fim))) throw new AppError('HORARIO_OCUPADO', 'Este horário já está ocupado.');
        await tx.consultas.save(c);
        return c.id;
      },
      { shared: true },
    );

  it('a hostile value reads back as itself, inlined or as a parameter (no injection)', async () => {
    const client = new pg.Client({ connectionString: pg15.cluster.url });
    await client.connect();
    try {
      for (const value of HOSTILE) {
        const text = inlined({ sql: 'SELECT $1::text AS v, length($1) AS n', values: [value] })!;
        const simple = (await client.query<{ v: string; n: number }>(text)).rows[0]!;
        const extended = (await client.query<{ v: string; n: number }>('SELECT $1::text AS v, length($1) AS n', [value])).rows[0]!;
        expect(simple).toEqual(extended);
        expect(simple.v).toBe(value);
      }
    } finally {
      await client.end();
    }
  });

  it('reads asked at one moment share round trips, and a failing one fails alone', async () => {
    const storage = await open();
    const m = medico();
    await storage.run(async (tx) => tx.medicos.save(m));
    const before = { trips: storage.reads.roundTrips, statements: storage.reads.statements };
    const answers = await Promise.all(Array.from({ length: 20 }, () => storage.medicos.get(m.id)));
    expect(answers.every((a) => a?.id === m.id)).toBe(true);
    // The same statement queued twice is asked once.
    expect(storage.reads.statements - before.statements).toBe(1);
    const mixed = await Promise.allSettled([
      storage.medicos.get(m.id),
      storage.consultas.list({ limit: 10, offset: 0 }),
      storage.feriados.ofYear(Number.MAX_SAFE_INTEGER), // make_date out of range: this one fails
      storage.pacientes.get('nenhum'),
    ]);
    expect(mixed.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(storage.reads.roundTrips - before.trips).toBeLessThan(8);
    // A value with a NUL goes alone, with parameters, and fails as it always did (not as a broken query).
    await expect(storage.medicos.findByCrm('a\u0000b')).rejects.toThrow();
    expect((await storage.medicos.get(m.id))?.id).toBe(m.id);
  });

  it('a statement sent once is prepared and runs as EXECUTE, in reads and units of work; one the server will not prepare stays text', async () => {
    const storage = await open();
    const records = HOSTILE.map((nome, i) => paciente({ nome: nome || 'vazio', cpf: String(30_000_000_000 + i) }));
    await storage.run(async (tx) => {
      for (const p of records) await tx.pacientes.save(p);
    });
    // Sequential reads: the first goes as text, and each later one finds it prepared on its connection (or
    // prepares it there first). `executed` counts EXECUTEs the server answered.
    const before = storage.prepared.executed;
    for (let round = 0; round < 6; round++) for (const p of records) expect(await storage.pacientes.get(p.id)).toEqual(p);
    expect(storage.prepared.executed - before).toBeGreaterThanOrEqual(HOSTILE.length * 4);
    // A unit of work's connection prepares what it lacks before its BEGIN, and its reads go as EXECUTE too.
    const inWork = storage.prepared.executed;
    for (const p of records) expect(await storage.run((tx) => tx.pacientes.get(p.id))).toEqual(p);
    expect(storage.prepared.executed - inWork).toBeGreaterThanOrEqual(HOSTILE.length);
    // `$1 IS NULL` cannot be prepared (its type is unknown) but runs as text: it keeps working, as text.
    const refused = { sql: 'SELECT $1 IS NULL AS vazio', values: ['x'] };
    for (let i = 0; i < 4; i++) expect((await storage.reads.run(refused)).rows).toEqual([{ vazio: false }]);
    const asText = storage.prepared.asText;
    expect((await storage.reads.run(refused)).rows).toEqual([{ vazio: false }]);
    expect(storage.prepared.asText).toBe(asText + 1);
    // The connections still serve prepared statements afterwards.
    const executed = storage.prepared.executed;
    expect(await storage.pacientes.get(records[0]!.id)).toEqual(records[0]);
    expect(storage.prepared.executed).toBe(executed + 1);
  });

  it('prepared statements on one connection: named on the server, and prepared again when a migration changes what they read', async () => {
    const url = await pg15.database('preparadas');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query("CREATE TABLE t (id text PRIMARY KEY, v integer); INSERT INTO t VALUES ('a', 1), ('b''c', 2)");
      const prepared = new PreparedStatements();
      const read = (id: string) => prepared.send(client, [{ sql: 'SELECT v FROM t WHERE id = $1', literals: literalsOf({ sql: '', values: [id] })! }], true);
      expect((await read('a'))[0]!.rows).toEqual([{ v: 1 }]); // as text: now known
      expect((await read("b'c"))[0]!.rows).toEqual([{ v: 2 }]); // prepared first, then EXECUTE
      expect(prepared.executed).toBe(1);
      const onServer = (await client.query<{ name: string; statement: string }>('SELECT name, statement FROM pg_prepared_statements')).rows;
      expect(onServer).toEqual([{ name: expect.stringMatching(/^agenda_\d+$/), statement: expect.stringContaining('SELECT v FROM t WHERE id = $1') }]);
      // Another process migrates: the statement's result type changes, and its next EXECUTE is refused (0A000).
      await asSuperuser(url, (other) => other.query('ALTER TABLE t ALTER COLUMN v TYPE text'));
      const stale = await read('a').catch((error: unknown) => error);
      expect(isStalePrepared(stale)).toBe(true);
      expect(isRetryable(stale)).toBe(true); // a unit of work meeting it runs again
      // The next time the connection is idle its statements are deallocated and prepared again.
      expect((await read('a'))[0]!.rows).toEqual([{ v: '1' }]);
      expect((await read('a'))[0]!.rows).toEqual([{ v: '1' }]);
      expect(prepared.executed).toBe(3);
      expect((await client.query('SELECT name FROM pg_prepared_statements')).rows).toHaveLength(1);
    } finally {
      await client.end();
    }
  });

  it('when consultas has statistics, then the reads of a médico or paciente keep to their own b-tree, with no sort, in generic and custom plans, past the dates analysed too', async () => {
    const url = await pg15.database('planos');
    const storage = await open(url);
    const medicos = Array.from({ length: 20 }, () => medico());
    const pacientes = Array.from({ length: 50 }, (_, i) => paciente({ cpf: String(40_000_000_000 + i) }));
    const consultas = Array.from({ length: 3000 }, (_, i) => {
      // Each médico and each paciente at most once a day: nothing overlaps.
      const inicio = new Date(Date.UTC(2031, 0, 1 + Math.floor(i / 20), 8 + (i % 9), 0));
      return consulta(medicos[i % 20]!.id, pacientes[i % 50]!.id, inicio.toISOString(), new Date(inicio.getTime() + 30 * 60_000).toISOString());
    });
    await storage.importRecords(async function* (collection) {
      if (collection === 'medicos') yield* medicos;
      if (collection === 'pacientes') yield* pacientes;
      if (collection === 'consultas') yield* consultas;
    });
    const asked: { sql: string; values: readonly unknown[]; index: RegExp }[] = [];
    let index = /consultas_medico_inicio/;
    const capture = createReads(async (sql, values) => {
      asked.push({ sql, values: values ?? [], index });
      return [];
    });
    // Inside the analysed months, and past them: bookings are made for days after most of the consultas a
    // database holds, where the statistics see no rows, and the planner preferred the (inicio, id) b-tree of every
    // médico, since it gives the order asked without a sort. Under load that read every médico's consultas of those
    // hours (half a millisecond per booking at 100k), and under SERIALIZABLE it locked index pages shared by all of them.
    for (const from of [Date.UTC(2031, 2, 3, 9), Date.UTC(2033, 5, 1, 9)]) {
      const to = from + 30 * 60_000;
      index = /consultas_medico_inicio/;
      await capture.consultas.medicoConflict(medicos[0]!.id, from, to);
      await capture.consultas.forMedicoBetween(medicos[0]!.id, from - 9 * 3_600_000, to + 9 * 3_600_000);
      await capture.consultas.encaixesBetween(medicos[0]!.id, from, to);
      index = /consultas_paciente_inicio/;
      await capture.consultas.pacienteConflict(pacientes[0]!.id, from, to);
      index = /consultas_medico_inicio[\s\S]*consultas_paciente_inicio/;
      await capture.consultas.conflictsAt(medicos[0]!.id, pacientes[0]!.id, from, to);
    }
    await asSuperuser(url, async (client) => {
      await client.query('ANALYZE consultas');
      for (const mode of ['force_generic_plan', 'force_custom_plan']) {
        await client.query(`SET plan_cache_mode = ${mode}`);
        for (const [i, { sql, values, index: expected }] of asked.entries()) {
          await client.query(`PREPARE q${i} AS ${sql}`);
          const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN EXECUTE q${i}(${literalsOf({ sql, values })!.join(', ')})`)).rows.map((r) => r['QUERY PLAN']).join('\n');
          expect(plan, `${mode}: ${sql}`).toMatch(expected);
          // The owner's b-tree gives `ORDER BY inicio, id` itself: a sort would mean a b-tree without `id`.
          expect(plan, `${mode}: ${sql}`).not.toMatch(/Seq Scan|consultas_inicio_idx|Sort/);
          await client.query(`DEALLOCATE q${i}`);
        }
      }
    });
  });

  it('when a restore commits, then the tables it filled have statistics at once, and a kept one is left alone', async () => {
    const url = await pg15.database('lotes');
    const storage = await open(url);
    const m = medico();
    const ps = Array.from({ length: 40 }, (_, i) => paciente({ cpf: String(52_998_224_000 + i) }));
    const cs = ps.map((p, i) => consulta(m.id, p.id, slotAt(i), slotAt(i + 1)));
    const records: Record<string, object[]> = { medicos: [m], pacientes: ps, consultas: cs };
    await storage.importRecords(
      async function* (collection) {
        yield* (records[collection] ?? []) as never[];
      },
      { keep: new Set(['usuarios']) },
    );
    // Autovacuum wakes once a minute at most: these are the restore's own.
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ relname: string; analysed: boolean; reltuples: number }>(
        `SELECT s.relname, s.last_analyze IS NOT NULL AS analysed, c.reltuples::int AS reltuples
           FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
          WHERE s.relname IN ('medicos', 'pacientes', 'consultas', 'usuarios') ORDER BY s.relname`,
      );
      expect(rows).toEqual([
        { relname: 'consultas', analysed: true, reltuples: 40 },
        { relname: 'medicos', analysed: true, reltuples: 1 },
        { relname: 'pacientes', analysed: true, reltuples: 40 },
        { relname: 'usuarios', analysed: false, reltuples: expect.any(Number) as number },
      ]);
    } finally {
      await admin.end();
    }
  });

  it('when the audit outbox was analysed empty after thousands of entries passed through it, then removing a group of entries reads its primary key only', async () => {
    const url = await pg15.database('fila_auditoria');
    const storage = await open(url);
    // A queue's life: entries staged in groups, then removed once appended, until the table holds none.
    for (let round = 0; round < 20; round++) {
      const entries = Array.from({ length: 200 }, (_, i) => staged(round * 1000 + i));
      await storage.run((tx) => Promise.all(entries.map((e) => tx.auditOutbox.save(e))));
      await storage.run((tx) => Promise.all(entries.map((e) => tx.auditOutbox.remove(e.id))));
    }
    const group = Array.from({ length: 25 }, (_, i) => staged(50_000 + i));
    // The statement a unit of work sends for removals of one collection asked in one go.
    const removal = removeManySql(tableOf(COLLECTIONS.auditoriaPendente));
    await asSuperuser(url, async (client) => {
      await client.query('ANALYZE auditoria_pendente'); // empty now: the statistics say 0 rows over many pages
      await client.query('SET plan_cache_mode = force_generic_plan');
      await client.query(`PREPARE remocao AS ${removal}`);
      const ids = `'{${group.map((e) => e.id).join(',')}}'`;
      const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN EXECUTE remocao(${ids})`)).rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toMatch(/auditoria_pendente_pkey/);
      expect(plan).not.toMatch(/Seq Scan|staged_em/);
    });
  });

  it('removals of one collection asked in one go travel as one statement, in their place among the work\'s statements', async () => {
    const storage = await open();
    const ms = Array.from({ length: 20 }, () => medico());
    await storage.run(async (tx) => {
      for (const m of ms) await tx.medicos.save(m);
    });
    const heard: Change[] = [];
    storage.changes.onCommit((changes) => heard.push(...changes));
    const query = vi.spyOn(PgUnitOfWork.prototype, 'query');
    const renamed = { ...ms[1]!, nome: 'Dra. Renomeada' };
    try {
      await storage.run(async (tx) => {
        // Removed twice, and one that is not there: each record is removed once, and nothing else is.
        void tx.medicos.remove('nenhum');
        for (const m of ms) void tx.medicos.remove(m.id);
        void tx.medicos.remove(ms[0]!.id);
        // Saved again right after its removal, in the same go: the save comes after the removal.
        await tx.medicos.save(renamed);
        // A read after the removals sees them.
        expect(await tx.medicos.get(ms[2]!.id)).toBeUndefined();
      });
      const deletes = query.mock.calls.filter(([sql]) => sql.startsWith('DELETE'));
      expect(deletes).toHaveLength(1);
    } finally {
      query.mockRestore();
    }
    expect(await storage.medicos.get(renamed.id)).toEqual(renamed);
    expect(await storage.medicos.get(ms[0]!.id)).toBeUndefined();
    expect((await storage.counts())['medicos']).toBe(1);
    const removed = heard.filter((c) => c.after === undefined);
    expect(removed.map((c) => c.id).sort()).toEqual(ms.map((m) => m.id).sort());
    expect(heard.filter((c) => c.after !== undefined)).toEqual([{ collection: 'medicos', id: renamed.id, before: undefined, after: renamed }]);
  });

  it('saves of one collection asked in one go travel as one statement, each change with its own previous version', async () => {
    const storage = await open();
    const existing = Array.from({ length: 5 }, () => medico());
    await storage.run(async (tx) => {
      for (const m of existing) await tx.medicos.save(m);
    });
    const heard: Change[] = [];
    storage.changes.onCommit((changes) => heard.push(...changes));
    const query = vi.spyOn(PgUnitOfWork.prototype, 'query');
    const fresh = Array.from({ length: 20 }, () => medico());
    const renamed = existing.map((m, i) => ({ ...m, nome: `Dra. Renomeada ${i}` }));
    const twice = { ...renamed[0]!, nome: 'Dra. Renomeada duas vezes' };
    const p = paciente({ cpf: '30000000001' });
    try {
      await storage.run(async (tx) => {
        // A read asked before the saves does not see them; one asked after does.
        const earlier = tx.medicos.get(existing[1]!.id);
        for (const m of [...fresh.slice(0, 10), ...renamed, ...fresh.slice(10)]) void tx.medicos.save(m);
        void tx.pacientes.save(p); // another collection, between the médicos' saves
        void tx.medicos.save(twice); // the same record again: after the first save of it
        expect((await earlier)?.nome).toBe(existing[1]!.nome);
        expect((await tx.medicos.get(existing[1]!.id))?.nome).toBe('Dra. Renomeada 1');
        expect((await tx.medicos.get(twice.id))?.nome).toBe(twice.nome);
        expect(await tx.pacientes.get(p.id)).toEqual(p);
      });
      const saves = query.mock.calls.filter(([sql]) => sql.startsWith('WITH'));
      // The médicos in one statement, the second save of one of them in another, the paciente in a third.
      expect(saves).toHaveLength(3);
    } finally {
      query.mockRestore();
    }
    for (const m of [...fresh, ...renamed.slice(1), twice]) expect(await storage.medicos.get(m.id)).toEqual(m);
    expect((await storage.counts())['medicos']).toBe(25);
    // In the order the work saved them, each with the version it replaced.
    const medicoChanges = heard.filter((c) => c.collection === 'medicos');
    expect(medicoChanges).toEqual([
      ...[...fresh.slice(0, 10)].map((m) => ({ collection: 'medicos', id: m.id, before: undefined, after: m })),
      ...renamed.map((m, i) => ({ collection: 'medicos', id: m.id, before: existing[i], after: m })),
      ...[...fresh.slice(10)].map((m) => ({ collection: 'medicos', id: m.id, before: undefined, after: m })),
      { collection: 'medicos', id: twice.id, before: renamed[0], after: twice },
    ]);
    expect(heard.filter((c) => c.collection === 'pacientes')).toEqual([{ collection: 'pacientes', id: p.id, before: undefined, after: p }]);
  });

  it('a group of bookings inserts its consultas with one statement, whose look-up of taken ids and update never run', async () => {
    const url = await pg15.database('lote_unico');
    const storage = await open(url);
    const { m, ps: pacientes } = await clinicOf(storage, 16, 31_000_000_000);
    const query = vi.spyOn(PgUnitOfWork.prototype, 'query');
    const booked = pacientes.map((p, i) => consulta(m.id, p.id, slotAt(i), slotAt(i + 1)));
    try {
      const before = { ...storage.shared.stats };
      await Promise.all(booked.map((c) => bookShared(storage, c)));
      expect(storage.shared.stats.groups - before.groups).toBe(1);
      const inserts = query.mock.calls.filter(([sql]) => sql.startsWith('WITH') && sql.includes('INSERT INTO consultas'));
      expect(inserts).toHaveLength(1);
    } finally {
      query.mockRestore();
    }
    // The same statement's plan for a group of new consultas: the look-up of ids the insert found taken, and the
    // update of those, never run — whatever scan this small table gets, it reads nothing and locks nothing.
    const table = tableOf('consultas');
    const fresh = pacientes.map((p, i) => consulta(m.id, p.id, slotAt(100 + i), slotAt(101 + i)));
    await asSuperuser(url, async (client) => {
      await client.query('BEGIN');
      const explain = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF) ${upsertManySql(table)}`, [
        ...manyRows(table, fresh.map((c) => rowValues(table, c))),
      ]);
      await client.query('ROLLBACK');
      const plan = explain.rows.map((r) => r['QUERY PLAN']).join('\n');
      const scans = plan.split('\n').filter((line) => / Scan (using \w+ )?on consultas/.test(line));
      expect(scans.length).toBeGreaterThanOrEqual(2); // the look-up and the update's
      for (const scan of scans) expect(scan).toMatch(/\(never executed\)$/);
    });
    expect((await storage.counts())['consultas']).toBe(booked.length);
  });

  it('hostile text round-trips through a unit of work, one save at a time and coalesced', async () => {
    const storage = await open();
    const one = HOSTILE.map((nome, i) => paciente({ nome: nome || 'vazio', cpf: String(10_000_000_000 + i) }));
    const many = HOSTILE.map((nome, i) => paciente({ nome: nome || 'vazio', cpf: String(10_100_000_000 + i) }));
    const query = vi.spyOn(PgUnitOfWork.prototype, 'query');
    try {
      await storage.run(async (tx) => {
        for (const p of one) await tx.pacientes.save(p); // each awaited: sent one by one
      });
      await storage.run(async (tx) => {
        for (const p of many) void tx.pacientes.save(p); // asked in one go: one statement
      });
      expect(query.mock.calls.filter(([sql]) => sql.includes('json_populate_recordset'))).toHaveLength(1);
    } finally {
      query.mockRestore();
    }
    for (const p of [...one, ...many]) expect(await storage.pacientes.get(p.id)).toEqual(p);
    expect((await storage.counts())['consultas']).toBe(0); // the DROP TABLE text did nothing
  });

  it('coalesced saves keep every column type of every collection: dates, instants, nulls, booleans, open bounds', async () => {
    const storage = await open();
    const m = medico({ ativo: false, especialidade: 'Clínica Médica' });
    const p = paciente({ cpf: '30000000002' });
    const u = usuario({ medicoId: null });
    const records = {
      medicos: [m, medico({ nome: "D'Ávila \\ \"aspas\"" })],
      pacientes: [p, paciente({ cpf: '30000000003', nome: 'Zoë 💉' })],
      usuarios: [u, usuario({ medicoId: m.id, papel: 'medico' })],
      sessoes: [sessao(u.id, Date.parse('2027-01-04T08:00:00Z')), sessao(u.id, Date.parse('2027-01-05T08:00:00Z'))],
      feriados: [feriado('2027-02-16', 'Carnaval'), feriado('2027-12-25')],
      listaEspera: [listaEspera(p.id, '2027-01-04T08:00:00-03:00'), listaEspera(p.id, '2027-01-04T09:00:00-03:00', { medicoId: m.id, especialidade: null } as never)],
      idempotency: [idempotency(Date.parse('2027-01-04T08:00:00Z')), idempotency(8.64e15)],
      consultas: [
        consulta(m.id, p.id, '2027-01-04T08:00:00-03:00', '2027-01-04T08:30:00-03:00', 'cancelada'),
        consulta(m.id, p.id, '2027-01-04T08:10:00-03:00', '2027-01-04T08:25:00-03:00', 'agendada', { encaixe: true, observacoes: 'linha\nquebrada \\ e \'aspas\'' }),
      ],
    } as const;
    await storage.run(async (tx) => {
      for (const [collection, list] of Object.entries(records)) for (const r of list) void (tx[collection as keyof typeof records] as { save(r: unknown): Promise<void> }).save(r);
    });
    for (const [collection, list] of Object.entries(records)) {
      for (const r of list) expect(await (storage[collection as keyof typeof records] as { get(id: string): Promise<unknown> }).get(r.id)).toEqual(r);
    }
    // The typed columns too, as the queries that filter on them see them.
    expect((await storage.feriados.on('2027-02-16')).map((f) => f.id)).toEqual([records.feriados[0].id]);
    expect((await storage.medicos.list({ ativo: false, limit: 10, offset: 0 })).items.map((x) => x.id)).toEqual([m.id]);
    expect(await storage.idempotency.olderThan(Date.parse('2027-01-05T00:00:00Z'))).toEqual([records.idempotency[0].id]);
    expect((await storage.consultas.encaixesBetween(m.id, Date.parse('2027-01-04T00:00:00-03:00'), Date.parse('2027-01-05T00:00:00-03:00'))).map((c) => c.id)).toEqual([
      records.consultas[1].id,
    ]);
  });

  it('a lone UTF-16 surrogate is stored as the one-record form stores it, coalesced or not (not a failed group)', async () => {
    const storage = await open();
    const m = medico();
    await storage.run((tx) => tx.medicos.save(m));
    const lone = 'meia\ud800letra';
    const [p1, p2] = [paciente({ nome: lone, cpf: '30000000012' }), paciente({ nome: lone, cpf: '30000000013' })];
    const [c1, c2, c3] = ['2027-01-04', '2027-01-05', '2027-01-06'].map((day) =>
      consulta(m.id, p1.id, `${day}T08:00:00-03:00`, `${day}T08:30:00-03:00`, 'agendada', { observacoes: lone }),
    );
    await storage.run(async (tx) => {
      await tx.pacientes.save(p1); // alone
      await tx.consultas.save(c1!);
    });
    const query = vi.spyOn(PgUnitOfWork.prototype, 'query');
    try {
      await storage.run(async (tx) => {
        void tx.pacientes.save(p2); // coalesced with a well-formed one
        void tx.pacientes.save(paciente({ cpf: '30000000014' }));
        void tx.consultas.save(c2!);
        void tx.consultas.save(c3!);
      });
      expect(query.mock.calls.filter(([sql]) => sql.includes('json_populate_recordset'))).toHaveLength(2);
    } finally {
      query.mockRestore();
    }
    const [one, many] = [await storage.pacientes.get(p1.id), await storage.pacientes.get(p2.id)];
    expect(one).toEqual(p1); // the record keeps its text
    expect(many).toEqual(p2);
    for (const c of [c1, c2, c3]) expect((await storage.consultas.get(c!.id))?.observacoes).toBe(lone);
    // The name column, which searches read, is the same either way.
    const found = await storage.pacientes.list({ q: 'meia', limit: 10, offset: 0 });
    expect(found.items.map((p) => p.id).sort()).toEqual([p1.id, p2.id].sort());
  });

  it('a save, a removal and a save again of one record asked in one go end as the last save, heard in that order', async () => {
    const storage = await open();
    const m = medico();
    await storage.run((tx) => tx.medicos.save(m));
    const heard: Change[] = [];
    storage.changes.onCommit((changes) => heard.push(...changes));
    const renamed = { ...m, nome: 'Dra. Primeira' };
    const again = { ...m, nome: 'Dra. Segunda' };
    await storage.run(async (tx) => {
      void tx.medicos.save(renamed);
      void tx.medicos.remove(m.id);
      void tx.medicos.save(again);
    });
    expect(await storage.medicos.get(m.id)).toEqual(again);
    expect(heard).toEqual([
      { collection: 'medicos', id: m.id, before: m, after: renamed },
      { collection: 'medicos', id: m.id, before: renamed, after: undefined },
      { collection: 'medicos', id: m.id, before: undefined, after: again },
    ]);
  });

  it('shared works commit as one group, and every listener hears each change once', async () => {
    const storage = await open();
    const { m, ps: pacientes } = await clinicOf(storage, 40, 20_000_000_000);
    const heard: Change[] = [];
    storage.changes.onCommit((changes) => heard.push(...changes));
    const groupsBefore = storage.shared.stats.groups;
    const booked = pacientes.map((p, i) => consulta(m.id, p.id, slotAt(i), slotAt(i + 1)));
    const results = await Promise.all(booked.map((c) => bookShared(storage, c)));
    expect(results).toEqual(booked.map((c) => c.id));
    expect(storage.shared.stats.groups - groupsBefore).toBeLessThan(booked.length / 4);
    expect(heard.filter((c) => c.collection === 'consultas').map((c) => c.id).sort()).toEqual(booked.map((c) => c.id).sort());
    expect((await storage.counts())['consultas']).toBe(booked.length);
  });

  it('shared works that write before reading anything still commit as one group (the advance locks go after BEGIN)', async () => {
    const storage = await open();
    const { m, ps: pacientes } = await clinicOf(storage, 12, 21_000_000_000);
    const before = { ...storage.shared.stats };
    const booked = pacientes.map((p, i) => consulta(m.id, p.id, slotAt(i), slotAt(i + 1)));
    // Each work's first statement is its write: the group's first batch carries BEGIN, the advance locks and the inserts.
    const results = await Promise.all(
      booked.map((c) =>
        storage.run(
          async (tx: UnitOfWork) => {
            await tx.consultas.save(c);
            return (await tx.consultas.get(c.id))?.id;
          },
          { shared: true },
        ),
      ),
    );
    expect(results).toEqual(booked.map((c) => c.id));
    expect(storage.shared.stats.fallbacks - before.fallbacks).toBe(0);
    expect(storage.shared.stats.retries - before.retries).toBe(0);
    expect(storage.shared.stats.groups - before.groups).toBeLessThan(booked.length / 2);
    expect((await storage.counts())['consultas']).toBe(booked.length);
  });

  it('two shared bookings of one slot in one group: exactly one wins, the other hears 409, nothing else is lost', async () => {
    const storage = await open();
    const { m, ps } = await clinicOf(storage, 12, 30_000_000_000);
    // Ten distinct slots, and two more bookings of slot 0 by other pacientes: the constraint decides.
    const wanted = [...ps.slice(0, 10).map((p, i) => consulta(m.id, p.id, slotAt(i), slotAt(i + 1))), ...ps.slice(10).map((p) => consulta(m.id, p.id, slotAt(0), slotAt(1)))];
    const fallbacks = storage.shared.stats.fallbacks;
    const settled = await Promise.allSettled(wanted.map((c) => bookShared(storage, c)));
    const ok = settled.filter((s) => s.status === 'fulfilled').length;
    const refused = settled.filter((s) => s.status === 'rejected').map((s) => (s as PromiseRejectedResult).reason as AppError);
    expect(ok).toBe(10);
    expect(refused.map((e) => [e.code, e.status])).toEqual([
      ['HORARIO_OCUPADO', 409],
      ['HORARIO_OCUPADO', 409],
    ]);
    expect(storage.shared.stats.fallbacks).toBeGreaterThan(fallbacks);
    const stored = await storage.consultas.forMedicoBetween(m.id, 0, Date.parse('2100-01-01'));
    expect(stored).toHaveLength(10);
    expect(new Set(stored.map((c) => c.inicio)).size).toBe(10);
  });

  it('a refusal before writing fails alone; a failure after writing undoes only its own writes', async () => {
    const storage = await open();
    const { m, ps } = await clinicOf(storage, 6, 40_000_000_000);
    const wanted = ps.map((p, i) => consulta(m.id, p.id, slotAt(i), slotAt(i + 1)));
    const settled = await Promise.allSettled(
      wanted.map((c, i) =>
        storage.run(
          async (tx) => {
            if (i === 1) throw new AppError('REGRA_AGENDAMENTO', 'recusada antes de escrever');
            await tx.consultas.save(c);
            if (i === 3) throw new Error('falhou depois de escrever');
            return c.id;
          },
          { shared: true },
        ),
      ),
    );
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const stored = new Set((await storage.consultas.forMedicoBetween(m.id, 0, Date.parse('2100-01-01'))).map((c) => c.id));
    expect(stored).toEqual(new Set([wanted[0]!.id, wanted[2]!.id, wanted[4]!.id, wanted[5]!.id]));
  });

  it('a group that meets a serialization failure runs again, and every work commits once', async () => {
    const url = await pg15.database('lotes');
    const storage = await open(url);
    const { m, ps } = await clinicOf(storage, 3, 50_000_000_000);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let wrote = 0;
    let runs = 0;
    const wanted = ps.map((p, i) => consulta(m.id, p.id, slotAt(i), slotAt(i + 1)));
    const group = wanted.map((c) =>
      storage.run(
        async (tx) => {
          runs++;
          await tx.medicos.get(m.id);
          await tx.consultas.save(c);
          await tx.consultas.get(c.id); // the write has reached the database
          wrote++;
          await gate;
          return c.id;
        },
        { shared: true },
      ),
    );
    while (wrote < wanted.length) await new Promise((resolve) => setTimeout(resolve, 10));
    // Another transaction reads where the group inserted and writes what the group read, and commits first: the
    // group is then the pivot of a dangerous structure, and PostgreSQL refuses it (40001) before it can commit.
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    try {
      await other.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
      await other.query('SELECT count(*) FROM consultas WHERE medico_id = $1', [m.id]);
      await other.query(`UPDATE medicos SET data = json_build_object('id', id, 'nome', 'Outro nome') WHERE id = $1`, [m.id]);
      await other.query('COMMIT');
    } finally {
      await other.end();
    }
    release();
    expect(await Promise.all(group)).toEqual(wanted.map((c) => c.id));
    expect(runs).toBeGreaterThan(wanted.length);
    const stored = await storage.consultas.forMedicoBetween(m.id, 0, Date.parse('2100-01-01'));
    expect(stored.map((c) => c.id).sort()).toEqual(wanted.map((c) => c.id).sort());
  });

  it('two groups writing the same médicos in opposite orders take their locks in one order: no deadlock, no retry', async () => {
    const url = await pg15.database('lotes');
    const [a, b] = [await open(url), await open(url)];
    const medicos = Array.from({ length: 8 }, () => medico());
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // A books médicos 1..8 at 08:00–08:05, B books 8..1 at 08:05–08:10: one quarter hour, so the same queueing locks
    // (migration 0012). Each group's rows, written in its works' order, would take médico locks in opposite orders
    // (the trigger's per-row locks), and each group would wait for the other.
    const start = Date.parse(slotAt(0));
    const minute = (n: number) => new Date(start + n * 60_000).toISOString().replace('Z', '+00:00');
    const group = (storage: PgStorage, order: typeof medicos, from: number) =>
      order.map((m, i) =>
        storage.run(
          async (tx) => {
            await gate;
            await tx.consultas.save(consulta(m.id, `paciente-${from}-${i}`, minute(from), minute(from + 5)));
          },
          { shared: true },
        ),
      );
    // Another session holds the lock of médico 4's quarter hour, so both groups are stopped in the middle of their
    // rows: A holding médicos 1–3, B holding 8–5. Row by row, A would then wait for 5 and B for 4: a deadlock.
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    const quarter = Math.floor(start / QUEUE_BUCKET_MS);
    const lockOf = (m: { id: string }): unknown[] => [CONSULTA_MEDICO_LOCK_CLASS, `${m.id}:${quarter}`];
    await holder.query('SELECT pg_advisory_lock($1, hashtext($2))', lockOf(medicos[3]!));
    const runs = [...group(a, medicos, 0), ...group(b, [...medicos].reverse(), 5)];
    await new Promise((resolve) => setTimeout(resolve, 50)); // both groups are open, waiting at the gate
    release();
    // Both groups reach the held lock (without that, the test would prove nothing): two waits on advisory locks.
    const waiting = async () =>
      Number((await holder.query<{ n: string }>("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).rows[0]!.n);
    await vi.waitFor(async () => expect(await waiting()).toBeGreaterThanOrEqual(2), { timeout: 10_000, interval: 20 });
    await holder.query('SELECT pg_advisory_unlock($1, hashtext($2))', lockOf(medicos[3]!));
    await holder.end();
    await Promise.all(runs);
    expect(a.shared.stats.retries + b.shared.stats.retries).toBe(0);
    expect(a.shared.stats.fallbacks + b.shared.stats.fallbacks).toBe(0);
    expect((await a.counts())['consultas']).toBe(16);
  });

  it('a read of a value the database cannot look up (a NUL, a year it cannot read back) is a 400 refusal, not the raw error', async () => {
    const storage = await open();
    const refused = { code: 'VALIDACAO', status: 400 };
    // With the other reads of the moment: each fails with its own error, the others still answer.
    const [nul, fine] = await Promise.allSettled([storage.medicos.get('a\u0000b'), storage.medicos.get('no-such-id')]);
    expect(nul).toMatchObject({ status: 'rejected', reason: refused });
    expect(fine).toEqual({ status: 'fulfilled', value: undefined });
    await expect(storage.consultas.medicoConflict('m', Date.parse('0000-01-01T00:00:00Z'), Date.parse('0000-01-02T00:00:00Z'))).rejects.toMatchObject(refused);
    // Inside a unit of work the same codes mean the server built the value (the edge refuses a request's): not a 400.
    await expect(storage.run((tx) => tx.pacientes.get('\u0000'))).rejects.not.toBeInstanceOf(AppError);
  });
});

/** The i-th 30-minute slot from 2031-03-03 08:00 (São Paulo). */
function slotAt(i: number): string {
  const ms = Date.parse('2031-03-03T08:00:00-03:00') + i * 30 * 60_000;
  return new Date(ms).toISOString().replace('Z', '+00:00');
}
