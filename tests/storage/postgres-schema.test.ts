import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { holdsSlot, isPendente } from '../../src/domain/consulta-status.js';
import type { Logger } from '../../src/core/logger.js';
import { migrate } from '../../src/infra/storage/postgres/migrations.js';
import { createPool, isConnectionError } from '../../src/infra/storage/postgres/pool.js';
import { CONSULTA_MEDICO_LOCK_CLASS, FEED_CHANNEL, MIGRATIONS, QUEUE_BUCKET_MS, QUEUE_MAX_BUCKETS } from '../../src/infra/storage/postgres/schema.js';
import { LONGEST_CONSULTA_MS } from '../../src/domain/slots.js';
import { queueingLocks } from '../../src/infra/storage/postgres/unit-of-work.js';
import type { ConsultaRecord } from '../../src/repositories/port.js';
import { ALL_COLLECTIONS } from '../../src/repositories/collections.js';
import { STATUS_CONSULTA, type StatusConsulta } from '../../src/schemas/consulta.schema.js';
import { createDatabase, postgresAvailable, skipMessage, skipWithoutPostgres, startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';

/** The SQLSTATE of a failed query (pg's DatabaseError carries it as `code`). */
const sqlState = (error: unknown): string | undefined => (error as { code?: string }).code;
const constraintOf = (error: unknown): string | undefined => (error as { constraint?: string }).constraint;

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the statement to fail');
}

interface ConsultaRow {
  medicoId: string;
  pacienteId: string;
  inicio: string;
  fim: string;
  status?: StatusConsulta;
  encaixe?: boolean;
}

/** Inserts a consulta the way the driver will: the record as JSON plus the typed columns. */
async function insertConsulta(db: pg.Pool | pg.PoolClient, c: ConsultaRow): Promise<string> {
  const id = randomUUID();
  const record = { id, ...c, status: c.status ?? 'agendada', encaixe: c.encaixe ?? false };
  await db.query(
    'INSERT INTO consultas (id, data, medico_id, paciente_id, inicio, fim, status, encaixe) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
    [id, JSON.stringify(record), c.medicoId, c.pacienteId, c.inicio, c.fim, record.status, record.encaixe],
  );
  return id;
}

const at = (hhmm: string): string => `2026-12-01T${hhmm}:00-03:00`;

describe.skipIf(skipWithoutPostgres())('PostgreSQL schema (throwaway cluster)', () => {
  let cluster: PostgresCluster;
  const pools: pg.Pool[] = [];
  let databases = 0;

  /** A database migrated once; each test that only needs the schema gets a copy of it. */
  const TEMPLATE = 'agenda_migrado';

  beforeAll(async () => {
    cluster = await startPostgres();
    const template = createPool({ url: await createDatabase(cluster.url, TEMPLATE) });
    await migrate(template);
    await template.end();
  }, 120_000);

  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await cluster?.stop();
  });

  /** A database of its own for one test, and a pool on it. */
  async function freshDatabase(max = 10): Promise<{ url: string; pool: pg.Pool }> {
    const url = await createDatabase(cluster.url, `teste_${++databases}`);
    const pool = createPool({ url, max });
    pools.push(pool);
    return { url, pool };
  }

  /** A database of its own with the schema in place (a copy of the migrated template). */
  async function migrated(max = 10): Promise<pg.Pool> {
    const url = await createDatabase(cluster.url, `teste_${++databases}`, { template: TEMPLATE });
    // 300 statements queue for 30 connections: on a loaded machine the wait passes the driver's 5 s default.
    const pool = createPool({ url, max, connectTimeoutMs: 60_000 });
    pools.push(pool);
    expect(await migrate(pool)).toEqual([]);
    return pool;
  }

  describe('migrations', () => {
    it('when three processes migrate at once, then each migration runs exactly once and a later start has nothing to do', async () => {
      const { url, pool } = await freshDatabase();
      const others = [createPool({ url, max: 2 }), createPool({ url, max: 2 })];
      pools.push(...others);

      const runs = await Promise.all([pool, ...others].map((p) => migrate(p)));

      expect(runs.flat().sort()).toEqual(MIGRATIONS.map((m) => m.name));
      expect(runs.filter((names) => names.length > 0)).toHaveLength(1);
      const { rows } = await pool.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY name');
      expect(rows.map((r) => r.name)).toEqual(MIGRATIONS.map((m) => m.name));
      expect(await migrate(others[0]!)).toEqual([]);
    });

    /** A database at the version before 0008, and the index of 0008 in `MIGRATIONS`. */
    async function beforeUuidKeys(): Promise<{ url: string; pool: pg.Pool; before: number }> {
      const { url, pool } = await freshDatabase();
      const before = MIGRATIONS.findIndex((m) => m.name === '0008_chaves_uuid');
      await migrate(pool, undefined, MIGRATIONS.slice(0, before));
      return { url, pool, before };
    }

    /**
     * A long read (a report, pg_dump, a process of the previous version) of `table` in another session, started
     * once this resolves and ended after `ms`: the promise it resolves with settles when the read has ended.
     */
    async function longRead(url: string, table: string, ms: number): Promise<{ ended: Promise<unknown> }> {
      const reader = new pg.Client({ connectionString: url });
      await reader.connect();
      await reader.query('BEGIN');
      await reader.query(`SELECT count(*) FROM ${table}`);
      return { ended: new Promise((resolve) => setTimeout(resolve, ms)).then(() => reader.query('COMMIT')).finally(() => reader.end()) };
    }

    it("when a migration must wait for a table another session reads, then the table's other users wait no longer than its lock timeout, and it migrates once the read ends", async () => {
      const { url, pool, before } = await beforeUuidKeys();
      const read = await longRead(url, 'consultas', 2_500);
      const started = performance.now();
      const warnings: unknown[] = [];
      const logger = { warn: (entry: unknown) => warnings.push(entry), info: () => undefined, error: () => undefined, debug: () => undefined } as unknown as Logger;
      const migrating = migrate(pool, logger, MIGRATIONS.slice(0, before + 1), { lockTimeoutMs: 300, retryDelayMs: 200 });
      // Meanwhile the app reads consultas: queued behind the migration's ALTER TABLE, it would wait for the whole read.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const queued = performance.now();
      await pool.query('SELECT count(*) FROM consultas');
      const waited = performance.now() - queued;
      expect(waited).toBeLessThan(1_500);
      expect(await migrating).toEqual(['0008_chaves_uuid']);
      expect(performance.now() - started).toBeGreaterThanOrEqual(2_400);
      // It did wait, and tried again (not a test that passes because the migration had not started yet).
      expect(warnings.length).toBeGreaterThan(0);
      await read.ended;
    });

    it('when a later migration waits for a table, then the ones before it stay committed, their tables free, and the retry starts at the one that waited', async () => {
      const { url, pool, before } = await beforeUuidKeys();
      // 0009 changes pacientes, which a long read holds; 0008 rebuilds consultas' indexes.
      const read = await longRead(url, 'pacientes', 5_000);
      const migrating = migrate(pool, undefined, MIGRATIONS.slice(0, before + 2), { lockTimeoutMs: 300, retryDelayMs: 200 });
      // Long before the read ends (one transaction for both, as before, would show 0008 only then).
      await expect.poll(async () => (await pool.query("SELECT count(*)::int AS n FROM schema_migrations WHERE name = '0008_chaves_uuid'")).rows[0].n, { timeout: 3_000 }).toBe(1);
      // 0008 is committed: consultas is not held while 0009 waits for pacientes.
      const queued = performance.now();
      await pool.query('SELECT count(*) FROM consultas');
      expect(performance.now() - queued).toBeLessThan(1_000);
      expect(await migrating).toEqual(['0008_chaves_uuid', '0009_cpf_anonimizado']);
      await read.ended;
    });

    it('when a migration fails, then it rolls back alone (those before it stay, recorded) and the next start applies what is left', async () => {
      const { pool } = await freshDatabase();
      const last = MIGRATIONS.length - 1;
      const broken = [...MIGRATIONS.slice(0, last), { name: MIGRATIONS[last]!.name, sql: `CREATE TABLE sobra (x int); ${MIGRATIONS[last]!.sql}; SELECT 1 / 0;` }];

      expect(sqlState(await failure(migrate(pool, undefined, broken)))).toBe('22012');

      const { rows } = await pool.query("SELECT to_regclass('medicos') AS medicos, to_regclass('sobra') AS sobra");
      expect(rows[0]).toEqual({ medicos: 'medicos', sobra: null });
      const recorded = await pool.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY name');
      expect(recorded.rows.map((r) => r.name)).toEqual(MIGRATIONS.slice(0, last).map((m) => m.name));
      expect(await migrate(pool)).toEqual([MIGRATIONS[last]!.name]);
      // The lock was given back: another start finds nothing to do, at once.
      expect(await migrate(pool)).toEqual([]);
    });

    it('when migrated, then every collection has its table with id text and data json', async () => {
      const pool = await migrated();
      const { rows } = await pool.query<{ table_name: string; column_name: string; data_type: string }>(
        `SELECT table_name, column_name, data_type FROM information_schema.columns
          WHERE table_schema = 'public' AND column_name IN ('id', 'data')`,
      );
      for (const collection of ALL_COLLECTIONS) {
        const columns = rows.filter((r) => r.table_name === collection);
        expect(columns.map((c) => `${c.column_name}:${c.data_type}`).sort(), collection).toEqual(['data:json', 'id:text']);
      }
    });

    it('when a record is stored as json, then it reads back byte for byte (key order, spacing, escapes)', async () => {
      const pool = await migrated();
      const text = '{"z":1,  "a":"São Paulo \\u00e9","id":"x","n":1.50,"a2":[ ]}';
      await pool.query('INSERT INTO feriados (id, data, dia) VALUES ($1, $2, $3)', ['x', text, '2026-12-25']);
      const { rows } = await pool.query<{ data: string }>('SELECT data::text AS data FROM feriados WHERE id = $1', ['x']);
      expect(rows[0]!.data).toBe(text);
    });
  });

  describe('names', () => {
    it('when pacientes are listed by name, then PostgreSQL orders them as the JSON driver does (localeCompare pt-BR)', async () => {
      const pool = await migrated();
      const nomes = ['Álvaro Dias', 'alvaro dias', 'Ana', 'Ângela', 'ana', 'Beatriz', 'Émile', 'Élio', 'Zé', 'zeca', 'Ábaco', 'Çá', 'Cecília', "D'Ávila", 'da Silva', 'Da Silva', 'O’Neil', 'Oneida'];
      for (const [i, nome] of nomes.entries()) {
        await pool.query('INSERT INTO pacientes (id, data, cpf, nome, nome_busca) VALUES ($1, $2, $3, $4, $5)', [`id-${i}`, '{}', `cpf-${i}`, nome, nome.toLowerCase()]);
      }
      const { rows } = await pool.query<{ nome: string }>('SELECT nome FROM pacientes ORDER BY nome, id');
      const json = [...nomes].map((nome, i) => ({ nome, id: `id-${i}` })).sort((a, b) => a.nome.localeCompare(b.nome, 'pt-BR') || a.id.localeCompare(b.id));
      expect(rows.map((r) => r.nome)).toEqual(json.map((p) => p.nome));
    });
  });

  describe('uniqueness', () => {
    it('when a CPF, a CRM or a user e-mail is stored twice, then PostgreSQL refuses with 23505 naming the constraint', async () => {
      const pool = await migrated();
      const paciente = (cpf: string) =>
        pool.query('INSERT INTO pacientes (id, data, cpf, nome, nome_busca) VALUES ($1, $2, $3, $4, $5)', [randomUUID(), '{}', cpf, 'Ana', 'ana']);
      const medico = (crm: string) =>
        pool.query('INSERT INTO medicos (id, data, crm, nome, nome_busca, especialidade_busca, ativo) VALUES ($1, $2, $3, $4, $5, $6, true)', [
          randomUUID(), '{}', crm, 'Dr. Ana', 'dr. ana', 'cardiologia',
        ]);
      const usuario = (email: string) =>
        pool.query("INSERT INTO usuarios (id, data, email, nome, papel, ativo) VALUES ($1, $2, $3, 'Ana', 'recepcao', true)", [randomUUID(), '{}', email]);

      await paciente('52998224725');
      await medico('123456/SP');
      await usuario('ana@clinica.local');
      for (const [attempt, constraint] of [
        [() => paciente('52998224725'), 'pacientes_cpf_key'],
        [() => medico('123456/SP'), 'medicos_crm_key'],
        [() => usuario('ana@clinica.local'), 'usuarios_email_key'],
      ] as const) {
        const error = await failure(attempt());
        expect(sqlState(error)).toBe('23505');
        expect(constraintOf(error)).toBe(constraint);
      }
      // Distinct values are fine.
      await paciente('11144477735');
      await medico('123456/RJ');
      await usuario('bia@clinica.local');
    });
  });

  describe('consultas: the database keeps slots and pacientes from overlapping', () => {
    it('when 300 bookings of one médico slot arrive at once (30 connections), then exactly one row is stored and the rest get 23P01', async () => {
      const pool = await migrated(30);
      const medicoId = randomUUID();
      const results = await Promise.allSettled(
        Array.from({ length: 300 }, () => insertConsulta(pool, { medicoId, pacienteId: randomUUID(), inicio: at('09:00'), fim: at('09:30') })),
      );

      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(new Set(refused.map((r) => `${sqlState(r.reason)} ${constraintOf(r.reason)}`))).toEqual(new Set(['23P01 consultas_medico_sem_sobreposicao']));
      const { rows } = await pool.query('SELECT count(*)::int AS n FROM consultas WHERE medico_id = $1', [medicoId]);
      expect(rows[0]).toEqual({ n: 1 });
    }, 120_000);

    it('when ranges of one médico overlap partly, then the second is refused; ranges that only touch are both kept', async () => {
      const pool = await migrated();
      const medicoId = randomUUID();
      await insertConsulta(pool, { medicoId, pacienteId: randomUUID(), inicio: at('09:00'), fim: at('09:30') });

      const error = await failure(insertConsulta(pool, { medicoId, pacienteId: randomUUID(), inicio: at('09:15'), fim: at('09:45') }));
      expect(sqlState(error)).toBe('23P01');
      await insertConsulta(pool, { medicoId, pacienteId: randomUUID(), inicio: at('09:30'), fim: at('10:00') });
      await insertConsulta(pool, { medicoId: randomUUID(), pacienteId: randomUUID(), inicio: at('09:00'), fim: at('09:30') });
    });

    it('when one paciente is booked at once with 50 médicos on overlapping ranges, then exactly one booking is kept', async () => {
      const pool = await migrated(30);
      const pacienteId = randomUUID();
      // Starts 09:00, 09:01, … 09:49, each 60 min long: every pair overlaps.
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) =>
          insertConsulta(pool, {
            medicoId: randomUUID(),
            pacienteId,
            inicio: new Date(Date.parse(at('09:00')) + i * 60_000).toISOString(),
            fim: new Date(Date.parse(at('10:00')) + i * 60_000).toISOString(),
          }),
        ),
      );

      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(constraintOf(r.reason)).toBe('consultas_paciente_sem_sobreposicao');
    });

    it('when an encaixe lands on an occupied slot, then it is kept; an encaixe over the paciente’s own pending consulta is not', async () => {
      const pool = await migrated();
      const medicoId = randomUUID();
      const pacienteId = randomUUID();
      await insertConsulta(pool, { medicoId, pacienteId, inicio: at('09:00'), fim: at('09:30') });

      await insertConsulta(pool, { medicoId, pacienteId: randomUUID(), inicio: at('09:10'), fim: at('09:25'), encaixe: true });
      await insertConsulta(pool, { medicoId, pacienteId: randomUUID(), inicio: at('09:10'), fim: at('09:25'), encaixe: true });
      const error = await failure(insertConsulta(pool, { medicoId: randomUUID(), pacienteId, inicio: at('09:20'), fim: at('09:35'), encaixe: true }));
      expect(constraintOf(error)).toBe('consultas_paciente_sem_sobreposicao');
    });

    it('when a consulta is cancelled, then its range is free again, and it cannot be brought back over the new booking', async () => {
      const pool = await migrated();
      const medicoId = randomUUID();
      const first = await insertConsulta(pool, { medicoId, pacienteId: randomUUID(), inicio: at('09:00'), fim: at('09:30') });
      expect(sqlState(await failure(insertConsulta(pool, { medicoId, pacienteId: randomUUID(), inicio: at('09:00'), fim: at('09:30') })))).toBe('23P01');

      await pool.query("UPDATE consultas SET status = 'cancelada' WHERE id = $1", [first]);
      await insertConsulta(pool, { medicoId, pacienteId: randomUUID(), inicio: at('09:00'), fim: at('09:30') });

      const error = await failure(pool.query("UPDATE consultas SET status = 'agendada' WHERE id = $1", [first]));
      expect(sqlState(error)).toBe('23P01');
    });

    it('when each status (regular and encaixe) meets an overlapping booking, then the constraints agree with holdsSlot and isPendente', async () => {
      const pool = await migrated();
      for (const status of STATUS_CONSULTA) {
        for (const encaixe of [false, true]) {
          const medicoId = randomUUID();
          const pacienteId = randomUUID();
          await insertConsulta(pool, { medicoId, pacienteId, inicio: at('09:00'), fim: at('09:30'), status, encaixe });

          const sameMedico = insertConsulta(pool, { medicoId, pacienteId: randomUUID(), inicio: at('09:00'), fim: at('09:30') });
          const samePaciente = insertConsulta(pool, { medicoId: randomUUID(), pacienteId, inicio: at('09:00'), fim: at('09:30') });
          const [medicoResult, pacienteResult] = await Promise.allSettled([sameMedico, samePaciente]);

          const label = `${status}${encaixe ? ' (encaixe)' : ''}`;
          expect(medicoResult!.status === 'rejected', `${label}: médico slot taken`).toBe(holdsSlot({ status, encaixe }));
          expect(pacienteResult!.status === 'rejected', `${label}: paciente busy`).toBe(isPendente(status));
        }
      }
    });

    describe('queueing locks (migration 0012: per médico and paciente, per quarter hour)', () => {
      /** What `pid` waits for, if anything: the lock types of its ungranted locks. */
      const waitsFor = async (pool: pg.Pool, pid: number): Promise<string[]> =>
        (await pool.query<{ locktype: string }>('SELECT locktype FROM pg_locks WHERE pid = $1 AND NOT granted', [pid])).rows.map((r) => r.locktype);

      /** Runs `second` on its own connection while `first` is written in a transaction left open; returns how it went. */
      async function whileOpen(pool: pg.Pool, first: ConsultaRow, second: ConsultaRow) {
        const [holder, other] = [await pool.connect(), await pool.connect()];
        let clean = false;
        try {
          await holder.query('BEGIN');
          await insertConsulta(holder, first);
          const pid = (await other.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
          // Two seconds are far longer than the insert takes; a wait for the holder would run into them (55P03).
          await other.query("SET lock_timeout = '2s'");
          const outcome = insertConsulta(other, second).then(
            () => 'stored' as const,
            (error: unknown) => error,
          );
          let waits: string[] = [];
          for (let i = 0; i < 50 && waits.length === 0; i++) {
            if (await Promise.race([outcome.then(() => true), new Promise((r) => setTimeout(() => r(false), 20))])) break;
            waits = await waitsFor(pool, pid);
          }
          await holder.query('COMMIT');
          const result = await outcome;
          await other.query('RESET lock_timeout');
          clean = true;
          return { waits, result };
        } finally {
          // A connection left in a transaction or with the short timeout is closed, not handed to the next test.
          holder.release(!clean);
          other.release(!clean);
        }
      }

      it('when one médico is booked at other hours of the same day while an earlier booking is uncommitted, then that write does not wait for it', async () => {
        const pool = await migrated();
        const medicoId = randomUUID();
        const pacienteId = randomUUID();
        const first = { medicoId, pacienteId, inicio: at('09:00'), fim: at('09:30') };
        // The same médico and paciente, the same day (before 0012, one lock per day: it waited until the COMMIT).
        expect(await whileOpen(pool, first, { medicoId, pacienteId, inicio: at('14:00'), fim: at('14:30') })).toEqual({ waits: [], result: 'stored' });
        // Touching ranges wait for nothing either: 09:30 is the next quarter hour.
        expect(await whileOpen(pool, { ...first, inicio: at('10:00'), fim: at('10:30') }, { medicoId, pacienteId: randomUUID(), inicio: at('10:30'), fim: at('10:45') })).toEqual({
          waits: [],
          result: 'stored',
        });
      });

      it('when a booking overlaps an uncommitted one at another start time, then it queues on the lock, and fails with 23P01 once the first commits', async () => {
        const pool = await migrated();
        const medicoId = randomUUID();
        const pacienteId = randomUUID();
        // 09:00–10:00 and 09:50–10:20 share only 09:45–10:00's quarter hour, and only the médico: other pacientes.
        const { waits, result } = await whileOpen(
          pool,
          { medicoId, pacienteId, inicio: at('09:00'), fim: at('10:00') },
          { medicoId, pacienteId: randomUUID(), inicio: at('09:50'), fim: at('10:20') },
        );
        expect(waits).toEqual(['advisory']);
        expect(sqlState(result)).toBe('23P01');
        // The same for one paciente at two médicos.
        const other = await whileOpen(
          pool,
          { medicoId: randomUUID(), pacienteId, inicio: at('15:00'), fim: at('15:20') },
          { medicoId: randomUUID(), pacienteId, inicio: at('15:10'), fim: at('15:40') },
        );
        expect(other.waits).toEqual(['advisory']);
        expect(constraintOf(other.result)).toBe('consultas_paciente_sem_sobreposicao');
      });

      it('when consultas of every shape are written, then the trigger takes exactly the locks the driver takes ahead for a group (queueingLocks)', async () => {
        const pool = await migrated();
        const shapes: (ConsultaRow & { label: string })[] = [
          { label: 'a 30-minute slot on the quarter hour', medicoId: 'm', pacienteId: 'p', inicio: at('09:00'), fim: at('09:30') },
          { label: 'ending on a quarter hour (end excluded)', medicoId: 'm', pacienteId: 'p', inicio: at('09:00'), fim: at('09:15') },
          { label: 'a 10-minute slot across 09:15', medicoId: 'm', pacienteId: 'p', inicio: at('09:10'), fim: at('09:20') },
          { label: 'across midnight UTC', medicoId: 'm', pacienteId: 'p', inicio: at('20:50'), fim: at('21:20') },
          { label: 'the longest the API books (240 min)', medicoId: 'm', pacienteId: 'p', inicio: at('08:00'), fim: at('12:00') },
          { label: '24 quarter hours, the most locked one by one', medicoId: 'm', pacienteId: 'p', inicio: at('08:00'), fim: at('14:00') },
          { label: '25 quarter hours (hand-written SQL only): first and last', medicoId: 'm', pacienteId: 'p', inicio: at('08:00'), fim: at('14:15') },
          { label: 'an encaixe (paciente only)', medicoId: 'm', pacienteId: 'p', inicio: at('09:05'), fim: at('09:20'), encaixe: true },
          { label: 'realizada (médico only)', medicoId: 'm', pacienteId: 'p', inicio: at('09:00'), fim: at('09:30'), status: 'realizada' },
          { label: 'cancelada (none)', medicoId: 'm', pacienteId: 'p', inicio: at('09:00'), fim: at('09:30'), status: 'cancelada' },
        ];
        const client = await pool.connect();
        try {
          for (const { label, ...row } of shapes) {
            await client.query('BEGIN');
            const id = await insertConsulta(client, row);
            const held = await client.query<{ c: string; o: string }>(
              "SELECT classid::text AS c, objid::text AS o FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND pid = pg_backend_pid() ORDER BY 1, 2",
            );
            const record = { id, ...row, status: row.status ?? 'agendada', encaixe: row.encaixe ?? false } as unknown as ConsultaRecord;
            const locks = queueingLocks(record);
            const expected = await client.query<{ c: string; o: string }>(
              'SELECT c::text AS c, ((hashtext(k)::bigint + 4294967296) % 4294967296)::text AS o FROM unnest($1::int[], $2::text[]) AS t(c, k) ORDER BY 1, 2',
              [locks.map(([c]) => c), locks.map(([, k]) => k)],
            );
            await client.query('ROLLBACK');
            expect(held.rows, label).toEqual(expected.rows);
            const buckets = new Set(locks.map(([, k]) => k.split(':')[1])).size;
            if (label.startsWith('a 30')) expect(buckets, label).toBe(2);
            if (label.startsWith('ending')) expect(buckets, label).toBe(1);
            if (label.startsWith('the longest')) expect(buckets, label).toBe(16);
            if (label.startsWith('24 quarter')) expect(buckets, label).toBe(24);
            if (label.startsWith('25 quarter')) expect(buckets, label).toBe(2);
          }
        } finally {
          client.release();
        }
      });
    });

    it('when a status is not one of the app’s, then the check refuses it (23514)', async () => {
      const pool = await migrated();
      const error = await failure(insertConsulta(pool, { medicoId: 'm', pacienteId: 'p', inicio: at('09:00'), fim: at('09:30'), status: 'perdida' as StatusConsulta }));
      expect(sqlState(error)).toBe('23514');
      expect(sqlState(await failure(insertConsulta(pool, { medicoId: 'm', pacienteId: 'p', inicio: at('09:30'), fim: at('09:00') })))).toBe('23514');
    });

    it('when ids are not canonical UUIDs (any string, upper case), then overlaps are still judged by equal ids: the same id is refused, another spelling is not', async () => {
      const pool = await migrated();
      const upper = randomUUID().toUpperCase();
      for (const medicoId of ['medico-1', upper, 'é ñ 🩺', '']) {
        await insertConsulta(pool, { medicoId, pacienteId: randomUUID(), inicio: at('09:00'), fim: at('09:30') });
        const error = await failure(insertConsulta(pool, { medicoId, pacienteId: randomUUID(), inicio: at('09:10'), fim: at('09:40') }));
        expect(constraintOf(error), medicoId).toBe('consultas_medico_sem_sobreposicao');
      }
      // The lower-case spelling of the same UUID is another id, as in the JSON driver (ids compare as strings).
      await insertConsulta(pool, { medicoId: upper.toLowerCase(), pacienteId: randomUUID(), inicio: at('09:00'), fim: at('09:30') });
      // A paciente's overlap, with an id that is not a UUID.
      const pacienteId = 'paciente-sem-uuid';
      await insertConsulta(pool, { medicoId: randomUUID(), pacienteId, inicio: at('11:00'), fim: at('11:30') });
      expect(constraintOf(await failure(insertConsulta(pool, { medicoId: randomUUID(), pacienteId, inicio: at('11:15'), fim: at('11:45') })))).toBe(
        'consultas_paciente_sem_sobreposicao',
      );
      const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM consultas');
      expect(rows[0]!.n).toBe(6);
    });

    it('when a database of the version before (text keys) holds consultas, then migrating to uuid keys keeps them and keeps refusing overlaps', async () => {
      const { pool } = await freshDatabase();
      const before = MIGRATIONS.findIndex((m) => m.name === '0008_chaves_uuid');
      expect(before).toBeGreaterThan(0);
      await migrate(pool, undefined, MIGRATIONS.slice(0, before));
      const medicoId = randomUUID();
      const pacienteId = 'p-antigo';
      await insertConsulta(pool, { medicoId, pacienteId, inicio: at('09:00'), fim: at('09:30') });
      await insertConsulta(pool, { medicoId, pacienteId: randomUUID(), inicio: at('10:00'), fim: at('10:30'), status: 'cancelada' });

      expect(await migrate(pool, undefined, MIGRATIONS.slice(0, before + 1))).toEqual(['0008_chaves_uuid']);

      const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM consultas');
      expect(rows[0]!.n).toBe(2);
      expect(constraintOf(await failure(insertConsulta(pool, { medicoId, pacienteId: randomUUID(), inicio: at('09:15'), fim: at('09:45') })))).toBe(
        'consultas_medico_sem_sobreposicao',
      );
      expect(constraintOf(await failure(insertConsulta(pool, { medicoId: randomUUID(), pacienteId, inicio: at('09:15'), fim: at('09:45') })))).toBe(
        'consultas_paciente_sem_sobreposicao',
      );
      // The cancelled one still holds nothing.
      await insertConsulta(pool, { medicoId, pacienteId: randomUUID(), inicio: at('10:00'), fim: at('10:30') });
      const { rows: keys } = await pool.query<{ def: string }>(
        "SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname IN ('consultas_medico_sem_sobreposicao', 'consultas_paciente_sem_sobreposicao')",
      );
      expect(keys.map((k) => k.def).every((d) => d.includes('agenda_chave('))).toBe(true);
    });
  });

  describe('anonymised pacientes (migration 0009)', () => {
    const paciente = (pool: pg.Pool, cpf: string | null) =>
      pool.query('INSERT INTO pacientes (id, data, cpf, nome, nome_busca) VALUES ($1, $2, $3, $4, $5)', [randomUUID(), '{}', cpf, 'Paciente anonimizado', 'paciente anonimizado']);

    it('when a database of the version before holds an anonymised paciente (CPF \'\'), then after migrating it holds NULL, and any number more can be anonymised while real CPFs stay unique', async () => {
      const { pool } = await freshDatabase();
      const before = MIGRATIONS.findIndex((m) => m.name === '0009_cpf_anonimizado');
      expect(before).toBeGreaterThan(0);
      await migrate(pool, undefined, MIGRATIONS.slice(0, before));
      await paciente(pool, '');
      // What made every anonymisation after the first fail.
      expect(constraintOf(await failure(paciente(pool, '')))).toBe('pacientes_cpf_key');

      expect(await migrate(pool, undefined, MIGRATIONS.slice(0, before + 1))).toEqual(['0009_cpf_anonimizado']);
      const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pacientes WHERE cpf IS NULL');
      expect(rows[0]!.n).toBe(1);
      await paciente(pool, null);
      await paciente(pool, null);
      await paciente(pool, '52998224725');
      expect(constraintOf(await failure(paciente(pool, '52998224725')))).toBe('pacientes_cpf_key');
    });
  });

  describe('change feed (alteracoes)', () => {
    const insertChange = (db: pg.Pool | pg.PoolClient, id: string) =>
      db.query<{ seq: string }>("INSERT INTO alteracoes (colecao, id, depois) VALUES ('consultas', $1, $2) RETURNING seq", [id, JSON.stringify({ id })]);
    const readSince = async (db: pg.Pool, after: number, limit = 1000): Promise<{ seq: number; id: string }[]> => {
      const { rows } = await db.query<{ seq: string; id: string }>('SELECT seq, id FROM alteracoes_desde($1, $2)', [after, limit]);
      return rows.map((r) => ({ seq: Number(r.seq), id: r.id }));
    };

    it('when an earlier seq is still uncommitted, then a read waits for it instead of skipping past it', async () => {
      const pool = await migrated();
      const early = await pool.connect();
      const late = await pool.connect();
      const reader = await pool.connect();
      try {
        await early.query('BEGIN');
        const earlySeq = Number((await insertChange(early, 'cedo')).rows[0]!.seq);
        await late.query('BEGIN');
        await insertChange(late, 'tarde');
        await late.query('COMMIT');

        const readerPid = (await reader.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        const read = reader.query<{ seq: string; id: string }>('SELECT seq, id FROM alteracoes_desde(0, 100)');
        // The signal that the read is parked on the feed lock, behind the open transaction.
        for (;;) {
          const { rows } = await pool.query("SELECT wait_event FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'", [readerPid]);
          if (rows.length > 0) break;
        }
        await early.query('COMMIT');

        const { rows } = await read;
        expect(rows.map((r) => [Number(r.seq), r.id])).toEqual([
          [earlySeq, 'cedo'],
          [earlySeq + 1, 'tarde'],
        ]);
      } finally {
        early.release();
        late.release();
        reader.release();
      }
    });

    it('when 20 writers commit and roll back while a reader polls, then the reader sees every committed change once, in seq order', async () => {
      const pool = await migrated(25);
      const committed = new Set<string>();
      let writing = true;
      const seen: { seq: number; id: string }[] = [];

      const reader = (async () => {
        let last = 0;
        for (;;) {
          const done = !writing; // decided before the read: the last read starts after every writer finished
          const batch = await readSince(pool, last, 50);
          for (const change of batch) {
            expect(change.seq).toBeGreaterThan(last);
            last = change.seq;
            seen.push(change);
          }
          if (done && batch.length < 50) return;
        }
      })();

      await Promise.all(
        Array.from({ length: 20 }, async (_, w) => {
          const client = await pool.connect();
          try {
            for (let i = 0; i < 25; i++) {
              const id = `${w}-${i}`;
              await client.query('BEGIN');
              await insertChange(client, id);
              await insertChange(client, `${id}-b`);
              if (i % 5 === 4) {
                await client.query('ROLLBACK');
              } else {
                await client.query('COMMIT');
                committed.add(id).add(`${id}-b`);
              }
            }
          } finally {
            client.release();
          }
        }),
      );
      writing = false;
      await reader;

      expect(seen.map((c) => c.id).sort()).toEqual([...committed].sort());
      expect(seen.map((c) => c.seq)).toEqual(seen.map((c) => c.seq).sort((a, b) => a - b));
    });

    it('when read inside a REPEATABLE READ transaction (a fixed snapshot), then the read refuses to run', async () => {
      const pool = await migrated();
      const client = await pool.connect();
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
        const error = await failure(client.query('SELECT * FROM alteracoes_desde(0, 10)'));
        expect((error as Error).message).toMatch(/READ COMMITTED/);
        await client.query('ROLLBACK');
      } finally {
        client.release();
      }
    });

    it('when announced, then a listener on the channel is woken', async () => {
      const { url, pool } = await freshDatabase();
      await migrate(pool);
      const listener = new pg.Client({ connectionString: url });
      await listener.connect();
      try {
        const heard = new Promise<string>((resolve) => listener.once('notification', (n) => resolve(n.channel)));
        await listener.query(`LISTEN ${FEED_CHANNEL}`);
        await pool.query('SELECT alteracoes_anunciar()');
        expect(await heard).toBe(FEED_CHANNEL);
      } finally {
        await listener.end();
      }
    });

    it('when old changes are pruned, then they are gone and the watermark tells readers which seqs they may have missed', async () => {
      const pool = await migrated();
      const old1 = Number((await insertChange(pool, 'velha-1')).rows[0]!.seq);
      const old2 = Number((await insertChange(pool, 'velha-2')).rows[0]!.seq);
      const recent = Number((await insertChange(pool, 'recente')).rows[0]!.seq);
      await pool.query("UPDATE alteracoes SET em = now() - interval '3 days' WHERE seq IN ($1, $2)", [old1, old2]);

      const { rows } = await pool.query<{ removed: string }>("SELECT alteracoes_podar(interval '1 day') AS removed");
      expect(Number(rows[0]!.removed)).toBe(2);
      expect((await readSince(pool, 0)).map((c) => c.seq)).toEqual([recent]);
      const mark = await pool.query<{ ate: string }>('SELECT ate FROM alteracoes_poda');
      expect(Number(mark.rows[0]!.ate)).toBe(old2);
      // Nothing older left: pruning again changes nothing.
      expect(Number((await pool.query<{ removed: string }>("SELECT alteracoes_podar(interval '1 day') AS removed")).rows[0]!.removed)).toBe(0);
      expect(Number((await pool.query<{ ate: string }>('SELECT ate FROM alteracoes_poda')).rows[0]!.ate)).toBe(old2);
    });
  });

  describe('the throwaway cluster', () => {
    it('when the database restarts, then running queries fail with a connection error and the same pool recovers', async () => {
      const local = await startPostgres();
      const pool = createPool({ url: local.url, max: 2 });
      try {
        const client = await pool.connect();
        const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        const sleeping = client.query('SELECT pg_sleep(30)').then(
          () => undefined,
          (error: unknown) => error,
        );
        // The signal that the sleep is running (so the restart interrupts it, not an idle connection).
        for (;;) {
          const { rows } = await pool.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", [pid]);
          if (rows.length > 0) break;
        }

        await local.restart();

        const error = await sleeping;
        expect(isConnectionError(error), String(error)).toBe(true);
        client.release(true);
        const { rows } = await pool.query<{ ok: number }>('SELECT 1 AS ok');
        expect(rows[0]).toEqual({ ok: 1 });

        await local.stop();
        expect(existsSync(local.dir)).toBe(false);
        const refused = await failure(pool.query('SELECT 1'));
        expect(isConnectionError(refused), String(refused)).toBe(true);
      } finally {
        await pool.end();
        await local.stop();
      }
    }, 60_000);
  });
});

describe('queueing lock keys (queueingLocks)', () => {
  it('when a consulta is as long as any the API or a restore accepts, at any minute, then it locks every quarter hour it touches', () => {
    const base = Date.parse('2031-03-03T11:00:00Z');
    for (let minute = 0; minute < 15; minute++) {
      const inicio = base + minute * 60_000;
      const c = { id: 'c', medicoId: 'm', pacienteId: 'p', inicio: new Date(inicio).toISOString(), fim: new Date(inicio + LONGEST_CONSULTA_MS).toISOString(), status: 'agendada', encaixe: false };
      const quarters = queueingLocks(c as ConsultaRecord).filter(([cls]) => cls === CONSULTA_MEDICO_LOCK_CLASS).map(([, k]) => Number(k.split(':')[1]));
      const touched = Math.floor((inicio + LONGEST_CONSULTA_MS - 1) / QUEUE_BUCKET_MS) - Math.floor(inicio / QUEUE_BUCKET_MS) + 1;
      // Not capped (QUEUE_MAX_BUCKETS): one key per quarter hour, in order, none skipped.
      expect(quarters).toHaveLength(touched);
      expect(quarters.every((q, i) => i === 0 || q === quarters[i - 1]! + 1)).toBe(true);
      expect(touched).toBeLessThanOrEqual(QUEUE_MAX_BUCKETS);
    }
  });
});

describe('isConnectionError', () => {
  const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

  it('when the database is gone or restarting, then the error is a connection error (503, retry later)', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', '57P01', '57P03', '08006', '53300']) expect(isConnectionError(withCode(code)), code).toBe(true);
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it('when a statement is refused (constraint, conflict, bad SQL), then it is not a connection error', () => {
    for (const code of ['23505', '23P01', '40001', '40P01', '42601', '22012']) expect(isConnectionError(withCode(code)), code).toBe(false);
    expect(isConnectionError('ECONNREFUSED')).toBe(false);
  });
});

describe('without PostgreSQL binaries', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('when the finder looks in a folder without them, then the suite is skipped and says why, loudly', () => {
    const empty = tempDir('agenda-no-pg-');
    vi.stubEnv('CI', '');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);

    const availability = postgresAvailable({ binDirs: [empty] });
    expect(availability.ok).toBe(false);
    const reason = availability.ok ? '' : availability.reason;
    expect(reason).toContain(empty);

    expect(skipWithoutPostgres({ binDirs: [empty] })).toBe(true);
    expect(skipWithoutPostgres({ binDirs: [empty] })).toBe(true);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toContain(skipMessage(reason));
    expect(skipMessage(reason)).toMatch(/^PostgreSQL tests skipped: .+; install Debian's postgresql to run them$/);
  });

  it('when CI is set and PostgreSQL is missing, then the suite fails instead of skipping', () => {
    const empty = tempDir('agenda-no-pg-');
    vi.stubEnv('CI', '1');
    expect(() => skipWithoutPostgres({ binDirs: [empty] })).toThrow(/PostgreSQL is required in CI: no PostgreSQL server binaries/);
  });

  it('when PostgreSQL is missing, then startPostgres refuses and says why', async () => {
    await expect(startPostgres({ binDirs: [tempDir('agenda-no-pg-')] })).rejects.toThrow(/PostgreSQL unavailable/);
  });
});
