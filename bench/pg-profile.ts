/**
 * `npm run bench:pg-profile [-- --size=N --seconds=S --server=PATH]`: where a booking's time goes on the PostgreSQL driver.
 * One server process on a throwaway cluster with `pg_stat_statements`; after a warm-up, a booking load, then every
 * statement the database ran during it, as calls per booking and database time per booking, with the
 * transactions committed and rolled back. The server runs from `dist/` (the script builds first).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startPostgres } from '../tests/helpers/postgres.js';
import { BENCH_CLUSTER_SETTINGS, databaseCpuMs, importFixture } from './storage-drivers.js';
import { bookingBodies, bookingLoad, CONNECTIONS, cpuMs, fixtureRecords, rate, startServer, stop } from './harness.js';

const arg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const SIZE = arg('size', 1000);
const SECONDS = arg('seconds', 4);
/** `--warmup=S`: seconds of bookings each server process takes before the measured load (its JIT warms up). */
const WARMUP = arg('warmup', 2);
/** `--processes=N`: N server processes on the database, the load's clients split among them. */
const PROCESSES = arg('processes', 1);
/**
 * `--followers=N`: N more server processes on the database that take no load during the measure. They follow the
 * others' commits and reservations (change feed, signals); the CPU that costs them is shown per booking.
 */
const FOLLOWERS = arg('followers', 0);
/** `--clients=N`: booking clients in all, split among the processes (default the benches' 50). */
const CLIENTS = arg('clients', CONNECTIONS);
/** `--server=PATH`: another build's `server.js` (a worktree's, to profile an older commit). */
const SERVER_SCRIPT = process.argv.find((a) => a.startsWith('--server='))?.slice('--server='.length);
/** `--analyze-after-warmup`: `ANALYZE` the database between the warm-up and the measured load. */
const ANALYZE_AFTER_WARMUP = process.argv.includes('--analyze-after-warmup');
/** `--socket`: the server reaches PostgreSQL over its Unix socket instead of TCP on 127.0.0.1. */
const SOCKET = process.argv.includes('--socket');

/**
 * `--perf=FILE`: the whole machine's CPU during the load, sampled by `perf record -a -g -e cpu-clock` into FILE (start
 * the server with `--node-flags=--perf-basic-prof` to name its JavaScript frames). Unlike V8's profiler, which samples
 * wall time (a process descheduled inside `write` shows as `writeBuffer`), this counts only time on a CPU.
 */
const PERF_FILE = process.argv.find((a) => a.startsWith('--perf='))?.slice('--perf='.length);

/** `--pg=name=value,…`: more server settings for the cluster, after the benches' own (e.g. `shared_buffers=32MB`, as the tests'). */
const EXTRA = (process.argv.find((a) => a.startsWith('--pg='))?.slice(5).split(',') ?? []).filter(Boolean);
const WAL_COLUMNS = ['wal_records', 'wal_fpi', 'wal_bytes', 'wal_sync', 'checkpoints_timed', 'checkpoints_req', 'buffers_backend', 'blks_read'] as const;
const cluster = await startPostgres({
  settings: ['shared_preload_libraries=pg_stat_statements', 'pg_stat_statements.track=all', 'pg_stat_statements.track_planning=on', ...BENCH_CLUSTER_SETTINGS, ...EXTRA],
});
const dataDir = mkdtempSync(path.join(tmpdir(), 'agenda-profile-'));
const admin = new pg.Client({ connectionString: cluster.url });
const servers: Awaited<ReturnType<typeof startServer>>[] = [];
try {
  const records = fixtureRecords(SIZE);
  await (await importFixture(cluster.url, records)).close();
  await admin.connect();
  await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  for (let i = 0; i < PROCESSES + FOLLOWERS; i++) {
    const server = await startServer(dataDir, true, { STORAGE: 'postgres', DATABASE_URL: SOCKET ? cluster.socketUrl : cluster.url }, SERVER_SCRIPT);
    servers.push(server);
    await bookingLoad(server, bookingBodies(`2034-0${i + 1}-01`, 5_000 * WARMUP), WARMUP);
  }
  // As autovacuum does in a running database, the warm-up's rows in: queue-like tables (the audit outbox) are then
  // analysed near empty, which is what misled the planner before migration 0011.
  if (ANALYZE_AFTER_WARMUP) await admin.query('ANALYZE');
  await admin.query('SELECT pg_stat_statements_reset()');
  const maintenance = async () =>
    (await admin.query<{ v: string; a: string }>('SELECT sum(autovacuum_count) v, sum(autoanalyze_count) a FROM pg_stat_user_tables')).rows[0]!;
  const maintenance0 = await maintenance();
  const db0 = (await admin.query<{ c: string; r: string }>("SELECT xact_commit c, xact_rollback r FROM pg_stat_database WHERE datname = 'agenda'")).rows[0]!;
  const wal0 = await walCounters(admin);
  const each0 = servers.map((server) => cpuMs(server.child.pid!));
  const detail0 = servers.map((server) => kernelCounters(server.child.pid!));
  const dbCpu0 = databaseCpuMs(cluster);
  const bodies = bookingBodies('2032-01-01', 60_000);
  const perf = PERF_FILE ? spawn('perf', ['record', '-a', '-g', '-F', '499', '-e', 'cpu-clock', '-o', PERF_FILE], { stdio: 'ignore' }) : undefined;
  const results = await Promise.all(
    servers.slice(0, PROCESSES).map((server, i) => bookingLoad(server, bodies.filter((_, k) => k % PROCESSES === i), SECONDS, Math.ceil(CLIENTS / PROCESSES))),
  );
  const result = { ...results[0]!, '2xx': results.reduce((n, r) => n + r['2xx'], 0), non2xx: results.reduce((n, r) => n + r.non2xx, 0) };
  const each = servers.map((server, i) => cpuMs(server.child.pid!) - each0[i]!);
  const serverCpu = each.reduce((sum, ms) => sum + ms, 0);
  const detail = servers
    .map((server, i) => kernelCounters(server.child.pid!).map((v, k) => v - detail0[i]![k]!))
    .reduce((sum, c) => sum.map((v, k) => v + c[k]!));
  const dbCpu = databaseCpuMs(cluster) - dbCpu0;
  const db1 = (await admin.query<{ c: string; r: string }>("SELECT xact_commit c, xact_rollback r FROM pg_stat_database WHERE datname = 'agenda'")).rows[0]!;
  const maintenance1 = await maintenance();
  const wal = (await walCounters(admin)).map((v, k) => v - wal0[k]!);
  // Only now: perf takes a while to write its file, and every figure above is of the load's window.
  if (perf) await new Promise((resolve) => perf.once('exit', resolve).kill('SIGINT'));
  const n = Math.max(1, result['2xx']);
  const { rows } = await admin.query<{ calls: string; ms: number; plan: number; query: string }>(
    `SELECT calls, total_exec_time AS ms, total_plan_time AS plan, regexp_replace(query, '\\s+', ' ', 'g') AS query FROM pg_stat_statements
      WHERE query NOT LIKE '%pg_stat%' ORDER BY calls DESC`,
  );
  const out: string[] = [];
  out.push(`${result['2xx']} bookings (${rate(result).toFixed(0)}/s), ${result.non2xx} other answers, CPU per booking: server${FOLLOWERS ? 's (followers included)' : ''} ${((serverCpu * 1000) / n).toFixed(0)} µs + database ${((dbCpu * 1000) / n).toFixed(0)} µs; cores busy: ${((serverCpu + dbCpu) / 1000 / SECONDS).toFixed(2)}`);
  const perBooking = (ms: number[]) => ms.map((v) => ((v * 1000) / n).toFixed(0)).join(' / ');
  if (servers.length > 1) {
    out.push(
      `server CPU µs per booking by process: ${perBooking(each.slice(0, PROCESSES))} (taking the load)${FOLLOWERS ? `, ${perBooking(each.slice(PROCESSES))} (following only)` : ''}`,
    );
  }
  out.push(
    `server detail per booking: user ${((detail[0]! * 1000) / n).toFixed(0)} µs, system ${((detail[1]! * 1000) / n).toFixed(0)} µs; context switches ${(detail[2]! / n).toFixed(1)} voluntary, ${(detail[3]! / n).toFixed(1)} involuntary`,
  );
  out.push(`transactions: ${((Number(db1.c) - Number(db0.c)) / n).toFixed(2)} committed, ${((Number(db1.r) - Number(db0.r)) / n).toFixed(2)} rolled back per booking`);
  out.push(
    `WAL per booking: ${(wal[0]! / n).toFixed(1)} records, ${(wal[1]! / n).toFixed(2)} full-page images, ${(wal[2]! / n / 1024).toFixed(1)} KiB; ${(wal[3]! / n).toFixed(2)} flushes; checkpoints during the load: ${wal[4]! + wal[5]!}; buffers per booking: ${(wal[7]! / n).toFixed(2)} read in (not in shared_buffers), ${(wal[6]! / n).toFixed(2)} written out by the database's backends`,
  );
  out.push(`autovacuum during the load: ${Number(maintenance1.v) - Number(maintenance0.v)} vacuums, ${Number(maintenance1.a) - Number(maintenance0.a)} analyzes`);
  let calls = 0;
  let ms = 0;
  let plan = 0;
  for (const r of rows) {
    calls += Number(r.calls);
    ms += r.ms;
    plan += r.plan;
  }
  // PostgreSQL compiles a statement whose plan costs more than jit_above_cost: milliseconds each time, if it happened.
  const jit = (await admin.query<{ f: string | null; ms: number | null }>(
    'SELECT sum(jit_functions) AS f, sum(jit_generation_time + jit_inlining_time + jit_optimization_time + jit_emission_time) AS ms FROM pg_stat_statements',
  )).rows[0]!;
  out.push(`JIT during the load: ${Number(jit.f ?? 0)} functions compiled, ${(jit.ms ?? 0).toFixed(1)} ms`);
  out.push(`statements: ${(calls / n).toFixed(1)} per booking, ${((ms * 1000) / n).toFixed(0)} µs of execution and ${((plan * 1000) / n).toFixed(0)} µs of planning per booking`);
  for (const r of rows.slice(0, 40)) {
    out.push(`${(Number(r.calls) / n).toFixed(2).padStart(6)} ×  ${((r.ms * 1000) / Number(r.calls)).toFixed(0).padStart(5)} µs + ${((r.plan * 1000) / Number(r.calls)).toFixed(0).padStart(4)} µs plan  ${r.query.slice(0, 150)}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
} finally {
  await admin.end().catch(() => {});
  for (const server of servers) await stop(server);
  await cluster.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

/**
 * WAL records, full-page images, bytes and flushes, timed and requested checkpoints, buffers written by backends, and
 * blocks read into shared buffers, since the cluster started. The views are PostgreSQL 15's and 16's (17 moved the
 * checkpoint counters to `pg_stat_checkpointer` and dropped `buffers_backend`).
 */
async function walCounters(client: pg.Client): Promise<number[]> {
  const { rows } = await client.query<Record<(typeof WAL_COLUMNS)[number], string>>(
    `SELECT wal_records, wal_fpi, wal_bytes, wal_sync, checkpoints_timed, checkpoints_req, buffers_backend,
            (SELECT blks_read FROM pg_stat_database WHERE datname = 'agenda') AS blks_read
       FROM pg_stat_wal, pg_stat_bgwriter`,
  );
  return WAL_COLUMNS.map((column) => Number(rows[0]![column]));
}

/** A process's user and system CPU (ms, all threads) and its main thread's context switches (voluntary, involuntary). */
function kernelCounters(pid: number): number[] {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const count = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return [Number(fields[11]) * 10, Number(fields[12]) * 10, count('voluntary_ctxt_switches'), count('nonvoluntary_ctxt_switches')];
}
