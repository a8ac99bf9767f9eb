import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, StorageUnavailableError } from '../../src/core/errors.js';
import { FileStore } from '../../src/infra/storage/json/file-store.js';
import { JsonStorage } from '../../src/infra/storage/json/json-storage.js';
import { MemoryStore } from '../../src/infra/storage/json/memory-store.js';
import { PgStorage } from '../../src/infra/storage/postgres/pg-storage.js';
import { ALL_COLLECTIONS, REFERENCE_FIELDS } from '../../src/repositories/collections.js';
import type { Entity, StoragePort } from '../../src/repositories/port.js';
import { silentLogger } from '../helpers/logger.js';
import { createDatabase, skipWithoutPostgres, startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';
import { describePortContract } from './port-contract.js';
import { at, consulta, medico, ms, paciente, usuario } from './port-fixtures.js';


async function opened(storage: StoragePort): Promise<StoragePort> {
  await storage.open();
  return storage;
}

describePortContract('JSON driver, data directory', () =>
  opened(new JsonStorage(new FileStore({ dir: tempDir('agenda-porta-'), collections: ALL_COLLECTIONS, logger: silentLogger, sharedFields: REFERENCE_FIELDS }))),
);

describePortContract('JSON driver, memory', () => opened(new JsonStorage(new MemoryStore(ALL_COLLECTIONS, REFERENCE_FIELDS))));

describe.skipIf(skipWithoutPostgres())('PostgreSQL driver (throwaway cluster)', () => {
  let cluster: PostgresCluster;
  let databases = 0;

  beforeAll(async () => {
    cluster = await startPostgres();
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  let template: Promise<void> | undefined;

  /**
   * A fresh, migrated database: a copy of one migrated once (`CREATE DATABASE … TEMPLATE`), which takes a
   * fraction of running the migrations for every test.
   */
  async function freshDatabase(): Promise<string> {
    template ??= (async () => {
      const url = await createDatabase(cluster.url, 'modelo');
      const storage = new PgStorage({ url, logger: silentLogger });
      await storage.open();
      await storage.close();
    })();
    await template;
    const name = `contrato_${++databases}`;
    const admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name} TEMPLATE modelo`);
    } finally {
      await admin.end();
    }
    const url = new URL(cluster.url);
    url.pathname = `/${name}`;
    return url.toString();
  }

  /** A PgStorage on a database of its own. */
  async function pgStorage(options: { url?: string; name?: string } = {}): Promise<PgStorage> {
    const url = options.url ?? (await freshDatabase());
    const storage = new PgStorage({ url, logger: silentLogger, poolMax: 6, feedPollMs: 200, applicationName: options.name ?? 'contrato' });
    await storage.open();
    return storage;
  }

  describePortContract('PostgreSQL driver', () => pgStorage());

  describe('PostgreSQL driver: what only a database shows', () => {
    const opened: StoragePort[] = [];
    const track = <T extends StoragePort>(s: T): T => (opened.push(s), s);

    afterAll(async () => {
      await Promise.allSettled(opened.map((s) => s.close()));
    });

    it("when a write breaks a UNIQUE or EXCLUDE constraint the service did not check, then the service's own domain error comes out", async () => {
      const storage = track(await pgStorage());
      const m = medico({ crm: '777777SP' });
      const [p1, p2] = [paciente({ cpf: '52998224725' }), paciente()];
      const u = usuario({ email: 'dup@clinica.local' });
      await storage.run(async (tx) => {
        await tx.medicos.save(m);
        await tx.pacientes.save(p1);
        await tx.pacientes.save(p2);
        await tx.usuarios.save(u);
        await tx.consultas.save(consulta(m.id, p1.id, at('2027-03-10', '09:00'), at('2027-03-10', '09:30')));
      });
      const outcome = (work: Parameters<StoragePort['run']>[0]) => storage.run(work).then(() => 'committed', (e: unknown) => e);

      expect(await outcome((tx) => tx.medicos.save(medico({ crm: '777777SP' })))).toMatchObject({ code: 'CRM_DUPLICADO', detail: 'Já existe um médico com o CRM 777777SP.' });
      expect(await outcome((tx) => tx.pacientes.save(paciente({ cpf: '52998224725' })))).toMatchObject({ code: 'CPF_DUPLICADO' });
      expect(await outcome((tx) => tx.usuarios.save(usuario({ email: 'dup@clinica.local' })))).toMatchObject({ code: 'EMAIL_DUPLICADO' });
      // Same médico, overlapping: the slot is taken.
      expect(await outcome((tx) => tx.consultas.save(consulta(m.id, p2.id, at('2027-03-10', '09:15'), at('2027-03-10', '09:45'))))).toMatchObject({
        code: 'HORARIO_OCUPADO',
        status: 409,
      });
      // Another médico, same paciente at the same time.
      const other = medico();
      await storage.run((tx) => tx.medicos.save(other));
      expect(await outcome((tx) => tx.consultas.save(consulta(other.id, p1.id, at('2027-03-10', '09:00'), at('2027-03-10', '09:30'))))).toMatchObject({
        code: 'CONFLITO_PACIENTE',
      });
      // An encaixe over the slot, for another paciente, is allowed; so is a cancelled consulta.
      expect(await outcome((tx) => tx.consultas.save(consulta(m.id, p2.id, at('2027-03-10', '09:00'), at('2027-03-10', '09:15'), 'agendada', { encaixe: true })))).toBe(
        'committed',
      );
      expect(await outcome((tx) => tx.consultas.save(consulta(m.id, paciente().id, at('2027-03-10', '09:00'), at('2027-03-10', '09:30'), 'cancelada')))).toBe('committed');
    });

    it('when a statement fails and the work swallows it, then the unit of work still fails with that error', async () => {
      const storage = track(await pgStorage());
      const m = medico({ crm: '1SP' });
      await storage.run((tx) => tx.medicos.save(m));
      const error = await storage
        .run(async (tx) => {
          await tx.medicos.save(medico({ crm: '1SP' })).catch(() => undefined);
          return 'ignored';
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: 'CRM_DUPLICADO' });
      expect((await storage.medicos.list({ limit: 10, offset: 0 })).total).toBe(1);
    });

    it('when many units of work count then insert under tx.lock, then a limit no constraint expresses is never exceeded', async () => {
      const storage = track(await pgStorage());
      const m = medico();
      const pacientes = Array.from({ length: 10 }, () => paciente());
      await storage.run(async (tx) => {
        await tx.medicos.save(m);
        for (const p of pacientes) await tx.pacientes.save(p);
      });
      const day = [ms(at('2027-03-10', '00:00')), ms(at('2027-03-11', '00:00'))] as const;
      const results = await Promise.allSettled(
        pacientes.map((p, i) =>
          storage.run(async (tx) => {
            await tx.lock(`encaixes:${m.id}:2027-03-10`);
            const count = (await tx.consultas.encaixesBetween(m.id, ...day)).length;
            if (count >= 2) throw new AppError('REGRA_AGENDAMENTO', 'limite de encaixes');
            await tx.consultas.save(consulta(m.id, p.id, at('2027-03-10', `1${i % 10}:00`), at('2027-03-10', `1${i % 10}:15`), 'agendada', { encaixe: true }));
          }),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
      expect(await storage.consultas.encaixesBetween(m.id, ...day)).toHaveLength(2);
    });

    it('when the database cannot be reached, then calls fail with StorageUnavailableError and healthy() is false', async () => {
      const url = new URL(cluster.url);
      url.port = '1';
      const storage = new PgStorage({ url: url.toString(), logger: silentLogger });
      await expect(storage.open()).rejects.toBeInstanceOf(StorageUnavailableError);
      await expect(storage.medicos.get('x')).rejects.toBeInstanceOf(StorageUnavailableError);
      await expect(storage.run((tx) => tx.medicos.save(medico()))).rejects.toBeInstanceOf(StorageUnavailableError);
      expect(await storage.healthy()).toBe(false);
      await storage.close();
    });

    it('when its connections are killed mid-transaction, then the units of work run again on fresh connections, and reads recover', async () => {
      const storage = track(await pgStorage({ name: 'vitima' }));
      const [m1, m2] = [medico(), medico()];
      // Holds the lock, so both units of work below are mid-transaction when the connections die.
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const runs = { holding: 0, waiting: 0 };
      const holding = storage.run(async (tx) => {
        runs.holding++;
        await tx.lock('segurar');
        await tx.medicos.save(m1);
        await gate;
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const waiting = storage.run(async (tx) => {
        runs.waiting++;
        await tx.lock('segurar');
        await tx.medicos.save(m2);
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const admin = new pg.Client({ connectionString: cluster.url });
      await admin.connect();
      const { rows } = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'vitima%' AND pid <> pg_backend_pid()");
      await admin.end();
      expect(rows.length).toBeGreaterThanOrEqual(3);
      // Connections lost before COMMIT was sent committed nothing: each unit of work ran again, and committed once.
      // (Again at least once: BEGIN travels with a work's first reads, so a retry that draws another dead pooled
      // connection has started its work before it hears so, and runs it once more.)
      await waiting;
      release();
      await holding;
      expect(runs.holding).toBeGreaterThanOrEqual(2);
      expect(runs.waiting).toBeGreaterThanOrEqual(2);
      expect(await storage.medicos.get(m1.id)).toEqual(m1);
      expect(await storage.medicos.get(m2.id)).toEqual(m2);
      expect((await storage.medicos.list({ limit: 10, offset: 0 })).total).toBe(2);
      expect(await storage.healthy()).toBe(true);
    });

    it("when an export's connection dies while it is walked (a backup or report during a restart), then the walk fails with StorageUnavailableError (503), not a bare error (500)", async () => {
      const storage = track(await pgStorage({ name: 'exportacao' }));
      await storage.run(async (tx) => {
        for (let i = 0; i < 3; i++) await tx.medicos.save(medico());
      });
      const snapshot = await storage.exportRecords();
      const admin = new pg.Client({ connectionString: cluster.url });
      await admin.connect();
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'exportacao%' AND state LIKE 'idle in transaction%'");
      await admin.end();
      const walk = async () => {
        for await (const record of snapshot.records('medicos')) void record;
      };
      await expect(walk()).rejects.toBeInstanceOf(StorageUnavailableError);
      await snapshot.close();
      // The pool gave the dead connection up: the storage answers on.
      expect((await storage.medicos.list({ limit: 10, offset: 0 })).total).toBe(3);
    });

    it('when every pooled connection is busy, then healthy() still answers true at once', async () => {
      const storage = track(await pgStorage());
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      // poolMax is 6: six units of work hold every connection until the gate opens.
      const busy = Array.from({ length: 6 }, () =>
        storage.run(async (tx) => {
          await tx.medicos.get('x');
          await gate;
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      const started = performance.now();
      expect(await storage.healthy()).toBe(true);
      expect(performance.now() - started).toBeLessThan(1_000);
      release();
      await Promise.all(busy);
    });

    it('when a backup of the JSON driver is imported and exported back, then every record is identical', async () => {
      const json = new JsonStorage(new MemoryStore(ALL_COLLECTIONS, REFERENCE_FIELDS));
      await json.open();
      const m = medico({ nome: 'Íris Gonçalves' });
      const p = paciente();
      await json.run(async (tx) => {
        await tx.medicos.save(m);
        await tx.pacientes.save(p);
        await tx.consultas.save(consulta(m.id, p.id, at('2027-03-10', '09:00'), at('2027-03-10', '09:30'), 'agendada', { observacoes: 'ã'.repeat(5000) }));
        await tx.usuarios.save(usuario());
      });
      const postgres = track(await pgStorage());
      const fromJson = await json.exportRecords();
      await postgres.importRecords((c) => fromJson.records(c));
      await fromJson.close();
      const fromPg = await postgres.exportRecords();
      const back = new JsonStorage(new MemoryStore(ALL_COLLECTIONS, REFERENCE_FIELDS));
      await back.open();
      await back.importRecords((c) => fromPg.records(c));
      await fromPg.close();
      const all = async (s: StoragePort): Promise<Record<string, Entity[]>> => {
        const snap = await s.exportRecords();
        const out: Record<string, Entity[]> = {};
        for (const c of s.collections) {
          out[c] = [];
          for await (const r of snap.records(c)) out[c].push(r);
        }
        await snap.close();
        return out;
      };
      expect(await all(back)).toEqual(await all(json));
      expect(JSON.stringify(await all(back))).toBe(JSON.stringify(await all(json)));
    });

    it('when a backup breaks a rule the database enforces, then the import is refused as an invalid backup and nothing changes', async () => {
      const storage = track(await pgStorage());
      const keep = medico();
      await storage.run((tx) => tx.medicos.save(keep));
      const m = medico();
      const [p1, p2] = [paciente(), paciente()];
      const records: Record<string, Entity[]> = {
        medicos: [m],
        pacientes: [p1, p2],
        consultas: [consulta(m.id, p1.id, at('2027-03-10', '09:00'), at('2027-03-10', '09:30')), consulta(m.id, p2.id, at('2027-03-10', '09:00'), at('2027-03-10', '09:30'))],
      };
      const error = await storage
        .importRecords(async function* (c) {
          yield* records[c] ?? [];
        })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'BACKUP_INVALIDO' });
      expect(await storage.medicos.get(keep.id)).toEqual(keep);
      expect((await storage.counts()).medicos).toBe(1);
    });
  });
});
