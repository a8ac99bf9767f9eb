import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { StorageUnavailableError } from '../../src/core/errors.js';
import { PgAuditLog } from '../../src/infra/storage/postgres/audit-log.js';
import { isNotNow } from '../../src/infra/storage/postgres/errors.js';
import { PgLimits } from '../../src/infra/storage/postgres/limits.js';
import { PgStorage, type PgStorageOptions } from '../../src/infra/storage/postgres/pg-storage.js';
import type { Change } from '../../src/repositories/port.js';
import type { Medico } from '../../src/schemas/medico.schema.js';
import { makeEntry } from '../audit/helpers.js';
import { throwawayCluster } from '../helpers/cluster.js';
import { silentLogger } from '../helpers/logger.js';
import { skipWithoutPostgres, startPostgres } from '../helpers/postgres.js';
import { medico, paciente } from './port-fixtures.js';

/**
 * A DBA's settings for the database must not change what the driver does: every connection sets what the driver
 * relies on (`sessionSettings` in `postgres/pool.ts`). Without that, under REPEATABLE READ two processes forked the
 * audit chain and never heard each other's commits (under SERIALIZABLE neither did they), and with
 * `standard_conforming_strings = off` a name search was a syntax error (found by a reviewer).
 */
describe.skipIf(skipWithoutPostgres())('PostgreSQL: a database whose defaults differ from the driver assumptions', () => {
  const c = throwawayCluster();

  /** A storage on a fresh database, holding one médico. */
  async function withMedico(prefix: string, options: Partial<PgStorageOptions> = {}) {
    const url = await c.database(prefix);
    const storage = c.track(new PgStorage({ url, logger: silentLogger, poolMax: 4, ...options }));
    await storage.open();
    const m = medico();
    await storage.run(async (tx) => {
      await tx.medicos.save(m);
    });
    return { url, storage, m };
  }

  /** Runs `body` with a connection of its own to `url` (a DBA's session), closed after. */
  async function asAdmin<T>(url: string, body: (admin: pg.Client) => Promise<T>): Promise<T> {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      return await body(admin);
    } finally {
      await admin.query('ROLLBACK').catch(() => undefined);
      await admin.end();
    }
  }

  const setForDatabase = (admin: pg.Client, url: string, setting: string, value: string) =>
    admin.query(`ALTER DATABASE ${new URL(url).pathname.slice(1)} SET ${setting} = ${value}`);

  /** `admin` takes `medicos` for itself until it rolls back. */
  const holdMedicos = async (admin: pg.Client) => {
    await admin.query('BEGIN');
    await admin.query('LOCK TABLE medicos IN ACCESS EXCLUSIVE MODE');
  };

  /** A read of `m` and a unit of work saving it, at once: what each failed with (or undefined). */
  const readAndWrite = (storage: PgStorage, m: Medico) =>
    Promise.all([
      storage.medicos.get(m.id).then(() => undefined, (error: unknown) => error),
      storage
        .run(async (tx) => {
          await tx.medicos.save({ ...m, nome: 'Dra. Outra' });
        })
        .then(() => undefined, (error: unknown) => error),
    ]);

  const expectUnavailable = (error: unknown, code: string) => {
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect((error as StorageUnavailableError).status).toBe(503);
    expect(((error as Error).cause as { code?: string }).code).toBe(code);
  };

  for (const level of ['repeatable read', 'serializable']) {
    it(`when the database defaults to ${level} and standard_conforming_strings off, then the feed, the audit chain, the limits and the name search still work`, async () => {
      const url = await c.database('sessao');
      await asAdmin(url, async (admin) => {
        await setForDatabase(admin, url, 'default_transaction_isolation', `'${level}'`);
        await setForDatabase(admin, url, 'standard_conforming_strings', 'off');
      });
      const a = c.track(new PgStorage({ url, logger: silentLogger, poolMax: 4, feedPollMs: 200 }));
      await a.open();
      const b = c.track(new PgStorage({ url, logger: silentLogger, poolMax: 4, feedPollMs: 200 }));
      await b.open();

      // Another process's commit is heard.
      const heard: Change[] = [];
      a.changes.onCommit((changes) => heard.push(...changes));
      const m = medico();
      await b.run(async (tx) => {
        await tx.medicos.save(m);
      });
      await expect.poll(() => heard.some((change) => change.id === m.id), { timeout: 5_000 }).toBe(true);

      // Two processes extend one hash chain.
      const logs = [new PgAuditLog({ pool: a.pool, logger: silentLogger }), new PgAuditLog({ pool: b.pool, logger: silentLogger })];
      await Promise.all(Array.from({ length: 40 }, (_, i) => logs[i % 2]!.append([makeEntry(i)])));
      expect(await logs[0]!.verify()).toMatchObject({ integra: true, entradas: 40 });

      // Counters taken at once by two processes: every hit counted, none refused.
      const limits = [new PgLimits({ pool: a.pool }), new PgLimits({ pool: b.pool })];
      const hits = await Promise.all(Array.from({ length: 20 }, (_, i) => limits[i % 2]!.windows.hit('login:ip', 1_000 + i, 60_000)));
      expect(Math.max(...hits.map((hit) => hit.count))).toBe(20);

      // A search with a backslash, a quote and LIKE's own characters.
      const p = paciente({ nome: String.raw`Ana d'Ávila \ 50% _x` });
      await a.run(async (tx) => {
        await tx.pacientes.save(p);
      });
      for (const q of [String.raw`\ 50%`, "d'ávila", '_x', String.raw`\\`]) {
        const found = await b.pacientes.list({ q, limit: 10, offset: 0 });
        expect(found.items.map((x) => x.id), q).toEqual(q === String.raw`\\` ? [] : [p.id]);
      }
    }, 60_000);
  }

  for (const [setting, code] of [['lock_timeout', '55P03'], ['statement_timeout', '57014']] as const) {
    it(`when a DBA's ${setting} stops a statement waiting on a lock, then reads and units of work answer 503 (${code}), and work again once the lock goes`, async () => {
      const { url, m } = await withMedico('limite');
      await asAdmin(url, async (admin) => {
        await setForDatabase(admin, url, setting, "'300ms'");
        // Connections opened from now on take the setting.
        const limited = c.track(new PgStorage({ url, logger: silentLogger, poolMax: 4 }));
        await limited.open();
        await holdMedicos(admin);
        const started = performance.now();
        const failures = await readAndWrite(limited, m);
        // The DBA's 300 ms, not the driver's longer default.
        expect(performance.now() - started).toBeLessThan(4_000);
        for (const error of failures) expectUnavailable(error, code);
        await admin.query('ROLLBACK');
        expect((await limited.medicos.get(m.id))?.nome).toBe(m.nome);
      });
    }, 60_000);
  }

  it('when another session holds a table longer than the driver waits for a lock, then reads and units of work answer 503 at that bound, not when the lock goes', async () => {
    const { url, storage, m } = await withMedico('trava', { lockTimeoutMs: 400 });
    await asAdmin(url, async (admin) => {
      // A DBA's `LOCK TABLE` (or a migration queued behind a long read), held until the checks below are done.
      await holdMedicos(admin);
      const started = performance.now();
      const failures = await readAndWrite(storage, m);
      expect(performance.now() - started).toBeLessThan(3_000);
      for (const error of failures) expectUnavailable(error, '55P03');
      await admin.query('ROLLBACK');
      expect((await storage.medicos.get(m.id))?.nome).toBe(m.nome);
    });
  }, 60_000);

  it('when bookings sharing one transaction meet a table held past the lock timeout, then each answers 503 once, at that bound, without running again alone', async () => {
    const { url, storage } = await withMedico('grupo', { lockTimeoutMs: 500 });
    await asAdmin(url, async (admin) => {
      await holdMedicos(admin);
      const before = { ...storage.shared.stats };
      const started = performance.now();
      const runs: number[] = [];
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          storage
            .run(
              async (tx) => {
                runs.push(i);
                await tx.medicos.save(medico());
              },
              { shared: true },
            )
            .catch((error: unknown) => error),
        ),
      );
      const elapsed = performance.now() - started;
      for (const outcome of outcomes) expectUnavailable(outcome, '55P03');
      // One wait for the group, not one more for each work alone (a reviewer found 8 connections each waiting again).
      expect(storage.shared.stats.fallbacks - before.fallbacks).toBe(0);
      expect(runs).toHaveLength(8);
      expect(elapsed).toBeLessThan(2_500);
    });
  }, 60_000);

  it('when the server becomes read-only (a failover to a standby, or a DBA setting), then writes answer 503 and reads go on', async () => {
    const { url, storage, m } = await withMedico('somente_leitura', { applicationName: 'somente_leitura' });
    await asAdmin(url, async (admin) => {
      await setForDatabase(admin, url, 'default_transaction_read_only', 'on');
      // The pool's connections are replaced by ones that take the setting.
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'somente_leitura'");
      const [, write] = await readAndWrite(storage, m);
      expectUnavailable(write, '25006');
      expect((await storage.medicos.get(m.id))?.nome).toBe(m.nome);
    });
  }, 60_000);

  it('when the server comes back as a hot standby (a failover left it in recovery), then units of work answer 503 (0A000: no serializable there) and reads go on', async () => {
    // A cluster of its own: this one stays read-only.
    const cluster = await startPostgres();
    try {
      const storage = new PgStorage({ url: cluster.url, logger: silentLogger, poolMax: 4 });
      await storage.open();
      try {
        const m = medico();
        await storage.run(async (tx) => {
          await tx.medicos.save(m);
        });
        await cluster.restart({ standby: true });
        // The pool's connections died with the restart: the first reads may meet them (503), nothing else.
        let read: Medico | undefined;
        for (let attempt = 1; read === undefined; attempt++) {
          try {
            read = await storage.medicos.get(m.id);
            expect(read?.nome).toBe(m.nome);
          } catch (error) {
            if (!(error instanceof StorageUnavailableError) || attempt >= 5) throw error;
          }
        }
        const [, write] = await readAndWrite(storage, m);
        expectUnavailable(write, '0A000');
        // Told apart by the server's function, not its words: a server with lc_messages in Portuguese says them otherwise.
        const cause = (write as Error).cause as { routine?: string; message: string };
        expect(cause.routine).toBe('call_enum_check_hook');
        const translated = Object.assign(new Error('não é possível usar o modo serializável em um servidor em espera'), { code: '0A000', routine: cause.routine });
        expect(isNotNow(translated)).toBe(true);
        expect(isNotNow(Object.assign(new Error('recurso não suportado'), { code: '0A000', routine: 'transformSelectStmt' }))).toBe(false);
        expect((await storage.medicos.get(m.id))?.nome).toBe(m.nome);
      } finally {
        await storage.close();
      }
    } finally {
      await cluster.stop();
    }
  }, 120_000);

  it('when a restore statement runs longer than the answer time a request statement gets (a large table), then the restore is not cut', async () => {
    const { url, storage, m } = await withMedico('restauracao_longa', { queryTimeoutMs: 300 });
    // Emptying medicos now takes 0.8 s, as emptying a large consultas table would take minutes.
    await asAdmin(url, async (admin) => {
      await admin.query('CREATE FUNCTION lenta() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.8); RETURN NULL; END $$');
      await admin.query('CREATE TRIGGER lenta BEFORE DELETE ON medicos FOR EACH STATEMENT EXECUTE FUNCTION lenta()');
    });
    const other = medico();
    await storage.importRecords(async function* (collection) {
      if (collection === 'medicos') yield other;
    });
    expect(await storage.medicos.get(m.id)).toBeUndefined();
    expect((await storage.medicos.get(other.id))?.nome).toBe(other.nome);
  }, 60_000);

  it('when a backup snapshot waits longer than the answer time a request statement gets (a large table sorted, here a held one), then it is not cut', async () => {
    const { url, storage, m } = await withMedico('exportacao_longa', { queryTimeoutMs: 300 });
    await asAdmin(url, async (admin) => {
      await holdMedicos(admin);
      const exported = (async () => {
        const snapshot = await storage.exportRecords();
        try {
          const ids: string[] = [];
          for await (const record of snapshot.records('medicos')) ids.push(record.id);
          return ids;
        } finally {
          await snapshot.close();
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await admin.query('ROLLBACK');
      // Before: 503 after 300 ms, the connection given back to the pool with the statement still queued on it.
      expect(await exported).toEqual([m.id]);
    });
  }, 60_000);
});
