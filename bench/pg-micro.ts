/**
 * `npm run bench:pg-micro [-- --size=N]`: two measurements behind BENCHMARKS.md's "why the PostgreSQL targets are
 * missed", each on a throwaway cluster holding the bench fixture (`--size` consultas, default 100k).
 *
 * 1. Reads. 50 callers each ask, again and again, the five reads of a booking's early checks (médico, paciente,
 *    bloqueios, both conflicts) through `PgStorage`, as the server does: this process's CPU and the database's per
 *    set. Then one connection running 250 `EXECUTE`s per query text of three kinds (a row with a médico's `data`,
 *    the same as text, an empty answer): what `pg` alone costs per statement.
 * 2. The consulta INSERT. Rows inserted 100 per statement in a transaction that is rolled back, with every
 *    constraint, then with the queueing trigger, the b-trees and the two exclusion constraints taken away one by
 *    one (a throwaway cluster: the schema is not kept): the wall time per row each part costs.
 *
 * Single measurements on a shared machine: read them as orders of magnitude, and compare within one run.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { startPostgres } from '../tests/helpers/postgres.js';
import { fixtureRecords } from './harness.js';
import { BENCH_CLUSTER_SETTINGS, databaseCpuMs, importFixture } from './storage-drivers.js';

const SIZE = Number(process.argv.find((a) => a.startsWith('--size='))?.slice(7) ?? 100_000);
const CALLERS = 50;

const cluster = await startPostgres({ settings: BENCH_CLUSTER_SETTINGS });
const client = new pg.Client({ connectionString: cluster.url });
try {
  const records = fixtureRecords(SIZE);
  const storage = await importFixture(cluster.url, records);
  const medicos = records.medicos!.map((m) => m.id);
  const pacientes = records.pacientes!.map((p) => p.id);

  // 1. Reads through the driver, and through pg alone.
  const fiveReads = (i: number) => {
    const m = medicos[i % medicos.length]!;
    const p = pacientes[i % pacientes.length]!;
    const t = Date.parse('2032-03-03T12:00:00Z');
    return Promise.all([
      storage.medicos.get(m),
      storage.pacientes.get(p),
      storage.bloqueios.ofMedico(m),
      storage.consultas.pacienteConflict(p, t, t + 600_000),
      storage.consultas.medicoConflict(m, t, t + 600_000),
    ]);
  };
  for (let round = 0; round < 2; round++) {
    let sets = 0;
    const end = Date.now() + 3_000;
    const cpu0 = process.cpuUsage();
    const db0 = databaseCpuMs(cluster);
    await Promise.all(
      Array.from({ length: CALLERS }, async (_, k) => {
        for (let i = k; Date.now() < end; i += CALLERS, sets++) await fiveReads(i);
      }),
    );
    const cpu = process.cpuUsage(cpu0);
    const db = databaseCpuMs(cluster) - db0;
    process.stdout.write(`five reads, ${CALLERS} callers: ${(sets / 3).toFixed(0)} sets/s, CPU per set: this process ${((cpu.user + cpu.system) / sets).toFixed(0)} µs, database ${((db * 1000) / sets).toFixed(0)} µs\n`);
  }
  await storage.close();

  await client.connect();
  await client.query('PREPARE row_data(text) AS SELECT data FROM medicos WHERE id = $1');
  await client.query('PREPARE row_text(text) AS SELECT data::text FROM medicos WHERE id = $1');
  await client.query('PREPARE row_none(text) AS SELECT data FROM medicos WHERE id = $1 AND false');
  for (const name of ['row_data', 'row_text', 'row_none']) {
    let statements = 0;
    const end = Date.now() + 2_000;
    const cpu0 = process.cpuUsage();
    while (Date.now() < end) {
      await client.query(Array.from({ length: 250 }, (_, i) => `EXECUTE ${name}('${medicos[i % medicos.length]}')`).join(';\n'));
      statements += 250;
    }
    const cpu = process.cpuUsage(cpu0);
    process.stdout.write(`pg alone, EXECUTE ${name}: ${((cpu.user + cpu.system) / statements).toFixed(1)} µs of this process per statement\n`);
  }

  // 2. The consulta INSERT, part by part.
  const data = JSON.stringify(records.consultas![0]);
  let batch = 0;
  const insertCost = async (label: string, rows = 3_000) => {
    const values = Array.from({ length: rows }, (_, i) => {
      const start = Date.UTC(2040, 0, 1) + batch * 40 * 86_400_000 + i * 600_000;
      return `('${randomUUID()}', '${data}', '${medicos[i % medicos.length]}', '${pacientes[i % pacientes.length]}', '${new Date(start).toISOString()}', '${new Date(start + 600_000).toISOString()}', 'agendada', false)`;
    });
    batch++;
    await client.query('BEGIN');
    const started = process.hrtime.bigint();
    for (let i = 0; i < rows; i += 100) {
      await client.query(`INSERT INTO consultas (id, data, medico_id, paciente_id, inicio, fim, status, encaixe) VALUES ${values.slice(i, i + 100).join(', ')}`);
    }
    const us = Number(process.hrtime.bigint() - started) / 1000 / rows;
    await client.query('ROLLBACK');
    process.stdout.write(`consulta INSERT ${label}: ${us.toFixed(0)} µs per row\n`);
  };
  await insertCost('(warm-up)');
  await insertCost('with everything');
  await client.query('ALTER TABLE consultas DISABLE TRIGGER consultas_enfileirar');
  await insertCost('without the queueing trigger');
  await client.query('DROP INDEX consultas_inicio_idx');
  await client.query('DROP INDEX consultas_paciente_inicio_idx');
  await client.query('DROP INDEX consultas_medico_inicio_idx');
  await insertCost('… and without the three b-trees besides the key');
  await client.query('ALTER TABLE consultas DROP CONSTRAINT consultas_paciente_sem_sobreposicao');
  await insertCost("… and without the paciente's exclusion constraint");
  await client.query('ALTER TABLE consultas DROP CONSTRAINT consultas_medico_sem_sobreposicao');
  await insertCost("… and without the médico's");
} finally {
  await client.end().catch(() => {});
  await cluster.stop();
}
