/**
 * `npm run bench -- --storage=postgres`: the two storage drivers side by side, and several server processes on one
 * database (issue 12).
 *
 * 1. Drivers. The same fixture (50 médicos, 2,000 pacientes, 100k consultas) goes into a JSON data directory and
 *    into a throwaway PostgreSQL cluster (`tests/helpers/postgres.ts`: initdb in a temp folder, fsync and
 *    synchronous_commit on), loaded through `PgStorage.importRecords` as a restore would. One server on each,
 *    both with auth, take turns on every load (`GET /health`, the agenda, bookings), the first one alternating
 *    from round to round, as `bench.ts` does for auth/no-auth; figures are medians of the rounds, compared as
 *    PostgreSQL ÷ JSON and each ÷ its own `/health`.
 * 2. Scale-up. 1, 2 and 3 server processes on that one database (each on its own port), the 50 booking clients
 *    split across them, in the order 1, 2, 3, 3, 2, 1 (so a drift of the shared machine's load falls on every
 *    count alike); bookings/s compared with one process.
 *
 * Beside throughput, the CPU each booking costs: in the server processes and in PostgreSQL (the postmaster and
 * its backends, from /proc), which is what shows where two cores go.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import type autocannon from 'autocannon';
import pg from 'pg';
import { PgStorage } from '../src/infra/storage/postgres/pg-storage.js';
import type { Entity } from '../src/repositories/port.js';
import { startPostgres, type PostgresCluster } from '../tests/helpers/postgres.js';
import {
  bookingBodies, bookingLoad, CONNECTIONS, cpuMs, FIRST_DAY, fixtureRecords, load, MAX_BOOKINGS_PER_S, medicoIds, median, quick, rate, ROUNDS,
  rssMb, SECONDS, type Server, startServer, stop, writeDataDir,
} from './harness.js';

/** Existing consultas (`--size=N`; default 100k): run it at 1k beside 100k to see what memory grows with. */
const SIZE = Number(process.argv.find((a) => a.startsWith('--size='))?.slice(7) ?? 100_000);
const PROCESS_COUNTS = [1, 2, 3, 3, 2, 1];
/** Seconds of bookings a process added for the scale-up takes alone before it is counted. */
const SCALE_WARMUP_S = quick ? 4 : 8;

/**
 * A PostgreSQL storage on `url` holding `records` (the bench fixture), loaded as a restore loads a backup, then
 * settled (see {@link settle}); returned open (migrations run), for the caller to use or close.
 */
export async function importFixture(url: string, records: Record<string, { id: string }[]>): Promise<PgStorage> {
  const storage = new PgStorage({ url });
  await storage.open();
  await storage.importRecords(async function* (collection): AsyncIterable<Entity> {
    yield* records[collection] ?? [];
  });
  await settle(url);
  return storage;
}

/**
 * Vacuums, analyses and checkpoints the database: it is then as autovacuum leaves it a few minutes after a restore,
 * with statistics, and with the import's dirty pages on disk. Without it, autovacuum's first pass over the imported
 * rows and the import's checkpoint fell in whichever round of the loads they reached (the database's CPU per booking
 * went from about 700 µs in the first rounds to 1,200 µs in the later ones). The planner's choices with statistics
 * are the ones a clinic's database lives with, so the loads measure those.
 */
export async function settle(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('VACUUM (ANALYZE)');
    await client.query('CHECKPOINT');
  } finally {
    await client.end();
  }
}

/** CPU ms used so far by the cluster: the postmaster, its live backends, and the children it has reaped. */
export function databaseCpuMs(cluster: PostgresCluster): number {
  const postmaster = Number(readFileSync(path.join(cluster.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const fields = (pid: number | string) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const own = fields(postmaster);
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const f = fields(entry);
      if (Number(f[1]) === postmaster) ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // the process ended while we looked
    }
  }
  return ticks * 10;
}

/**
 * A measured load: its result, the CPU µs per 2xx answer in the server processes and in the database, and the cores
 * each kept busy on average while it ran, with the load generator's (this process: autocannon).
 */
interface Measured {
  result: autocannon.Result;
  serverCpuUs: number;
  dbCpuUs: number;
  cores: { servers: number; database: number; loader: number };
}

async function measured(servers: Server[], cluster: PostgresCluster | undefined, run: () => Promise<autocannon.Result>): Promise<Measured> {
  const serverCpu = () => servers.reduce((sum, s) => sum + cpuMs(s.child.pid!), 0);
  const beforeServer = serverCpu();
  const beforeDb = cluster ? databaseCpuMs(cluster) : 0;
  const beforeLoader = process.cpuUsage();
  const started = performance.now();
  const result = await run();
  const wallMs = performance.now() - started;
  const loader = process.cpuUsage(beforeLoader);
  const answers = Math.max(1, result['2xx']);
  const serverMs = serverCpu() - beforeServer;
  const dbMs = cluster ? databaseCpuMs(cluster) - beforeDb : 0;
  return {
    result,
    serverCpuUs: (serverMs * 1000) / answers,
    dbCpuUs: (dbMs * 1000) / answers,
    cores: { servers: serverMs / wallMs, database: dbMs / wallMs, loader: (loader.user + loader.system) / 1000 / wallMs },
  };
}

/** Several loads at once, one per server, summed into one result (rates add up; p99 is the worst of them). */
async function together(runs: Promise<autocannon.Result>[]): Promise<autocannon.Result> {
  const results = await Promise.all(runs);
  const first = results[0]!;
  return {
    ...first,
    '2xx': results.reduce((n, r) => n + r['2xx'], 0),
    non2xx: results.reduce((n, r) => n + r.non2xx, 0),
    errors: results.reduce((n, r) => n + r.errors, 0),
    duration: Math.max(...results.map((r) => r.duration)),
    latency: { ...first.latency, p99: Math.max(...results.map((r) => r.latency.p99)) },
  };
}

interface DriverFigures {
  readyMs: number;
  health: number[];
  agenda: number[];
  agendaP99: number[];
  bookings: number[];
  bookingP99: number[];
  bookingCpuUs: number[];
  bookingDbCpuUs: number[];
  agendaCpuUs: number[];
  agendaDbCpuUs: number[];
  refused: number;
  rssMb: number;
}

const emptyFigures = (readyMs: number): DriverFigures => ({
  readyMs, health: [], agenda: [], agendaP99: [], bookings: [], bookingP99: [], bookingCpuUs: [], bookingDbCpuUs: [], agendaCpuUs: [], agendaDbCpuUs: [], refused: 0, rssMb: 0,
});

interface ScaleRow {
  processes: number;
  bookings: number;
  p99: number;
  serverCpuUs: number;
  dbCpuUs: number;
  cores: Measured['cores'];
  refused: number;
}

/**
 * The benches' PostgreSQL settings beyond the test clusters' (`tests/helpers/postgres.ts`). `shared_buffers` is the
 * server's own default, 128MB, which the cluster of the README's "Running on PostgreSQL" gets; the test clusters keep
 * 32MB, since a dozen of them run at once in CI. With 32MB the 100k fixture's indexes (57 MB) do not fit in the cache,
 * and each booking read 2.2 pages in from the kernel and wrote 2.3 out (`bench:pg-profile`; 0.55 and 0.55–0.8 with
 * 128MB): work a deployment with the default setting does not do.
 */
export const BENCH_CLUSTER_SETTINGS: readonly string[] = ['shared_buffers=128MB'];

/** Runs both parts and returns the report's lines (Markdown). */
export async function compareDrivers(): Promise<string[]> {
  const loadBefore = uptime();
  const records = fixtureRecords(SIZE);
  const jsonDir = writeDataDir(SIZE, records);
  // With PostgreSQL, DATA_DIR keeps only the audit files and backups; every process of the database shares it.
  const pgDataDir = mkdtempSync(path.join(tmpdir(), 'agenda-bench-pg-'));
  const cluster = await startPostgres({ maxConnections: 200, settings: BENCH_CLUSTER_SETTINGS });
  const pgEnv = { STORAGE: 'postgres', DATABASE_URL: cluster.url };
  let json: Server | undefined;
  const processes: Server[] = [];
  let booked = 0;
  /** Booking clients of every load on PostgreSQL: each may have had one request in flight when its load's clock stopped. */
  let inFlight = 0;
  try {
    const loadStarted = performance.now();
    await (await importFixture(cluster.url, records)).close();
    const importMs = performance.now() - loadStarted;

    json = await startServer(jsonDir, true);
    const postgres = await startServer(pgDataDir, true, pgEnv);
    processes.push(postgres);
    const servers = { json, postgres };
    const figures = { json: emptyFigures(json.readyMs), postgres: emptyFigures(postgres.readyMs) };
    const dbOf = (which: 'json' | 'postgres') => (which === 'postgres' ? cluster : undefined);
    const agendaLoad = (server: Server, duration = SECONDS) =>
      load({ url: `${server.url}/medicos/${medicoIds[0]}/agenda?data=${FIRST_DAY}`, headers: server.headers, duration });
    const bookings = (server: Server, firstDay: string, duration: number) => bookingLoad(server, bookingBodies(firstDay, duration * MAX_BOOKINGS_PER_S), duration);

    for (const server of [json, postgres]) {
      await load({ url: `${server.url}/health`, duration: 1 });
      await agendaLoad(server, 1);
      // As long as a process added for the scale-up warms up (see SCALE_WARMUP_S): the rounds then compare warm code.
      // After 1 s, the PostgreSQL server's first round still ran at 0.40–0.46× JSON and its later ones at 0.53–0.60×.
      const warm = await bookings(server, '2034-01-01', SCALE_WARMUP_S);
      if (server === postgres) {
        booked += warm['2xx'];
        inFlight += CONNECTIONS;
      }
    }
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? (['json', 'postgres'] as const) : (['postgres', 'json'] as const);
      for (const which of order) figures[which].health.push(rate(await load({ url: `${servers[which].url}/health` })));
      for (const which of order) {
        const m = await measured([servers[which]], dbOf(which), () => agendaLoad(servers[which]));
        figures[which].agenda.push(rate(m.result));
        figures[which].agendaP99.push(m.result.latency.p99);
        figures[which].agendaCpuUs.push(m.serverCpuUs);
        figures[which].agendaDbCpuUs.push(m.dbCpuUs);
        figures[which].refused += m.result.non2xx + m.result.errors;
      }
      // Each round books its own months (each server has its own data, so both book the same slots).
      const month = `2032-${String(1 + 3 * r).padStart(2, '0')}-01`;
      for (const which of order) {
        const m = await measured([servers[which]], dbOf(which), () => bookings(servers[which], month, SECONDS));
        figures[which].bookings.push(rate(m.result));
        figures[which].bookingP99.push(m.result.latency.p99);
        figures[which].bookingCpuUs.push(m.serverCpuUs);
        figures[which].bookingDbCpuUs.push(m.dbCpuUs);
        figures[which].refused += m.result.non2xx + m.result.errors;
        if (which === 'postgres') {
          booked += m.result['2xx'];
          inFlight += CONNECTIONS;
        }
      }
    }
    figures.json.rssMb = rssMb(json.child.pid!);
    figures.postgres.rssMb = rssMb(postgres.child.pid!);
    await stop(json);

    // Scale-up: processes started and stopped between counts, so each count runs exactly that many.
    const scale: ScaleRow[] = [];
    let warmups = 0;
    for (const [c, n] of PROCESS_COUNTS.entries()) {
      while (processes.length < n) {
        const started = await startServer(pgDataDir, true, pgEnv);
        // A process just started warms up before it is counted, alone and on days of its own, long enough for its
        // JIT to finish: after 2 s of bookings V8's optimising compiler still took 14% of a server's CPU, after 15 s
        // 2% (`bench:pg-profile --warmup=S --perf=FILE`). The first process warmed up through the rounds above.
        booked += (await bookings(started, `2035-${String(++warmups).padStart(2, '0')}-01`, SCALE_WARMUP_S))['2xx'];
        inFlight += CONNECTIONS;
        processes.push(started);
      }
      while (processes.length > n) await stop(processes.pop());
      const month = `2033-${String(2 + 2 * c).padStart(2, '0')}-01`;
      const all = bookingBodies(month, SECONDS * MAX_BOOKINGS_PER_S);
      const m = await measured(processes, cluster, () =>
        together(
          processes.map((p, i) =>
            bookingLoad(
              p,
              all.filter((_, k) => k % n === i),
              SECONDS,
              Math.floor(CONNECTIONS / n) + (i < CONNECTIONS % n ? 1 : 0),
            ),
          ),
        ),
      );
      booked += m.result['2xx'];
      inFlight += CONNECTIONS;
      scale.push({
        processes: n,
        bookings: rate(m.result),
        p99: m.result.latency.p99,
        serverCpuUs: m.serverCpuUs,
        dbCpuUs: m.dbCpuUs,
        cores: m.cores,
        refused: m.result.non2xx + m.result.errors,
      });
    }
    // Every acknowledged booking is in the database. A few more may be: autocannon stops counting when a load's
    // time is up, and a request then in flight may still have committed (at most one per client and load).
    const stored = await countConsultas(cluster.url);
    return report({ figures, scale, importMs, stored, acknowledged: SIZE + booked, inFlight, loadBefore, loadAfter: uptime() });
  } finally {
    await stop(json);
    for (const p of processes) await stop(p);
    await cluster.stop();
    rmSync(jsonDir, { recursive: true, force: true });
    rmSync(pgDataDir, { recursive: true, force: true });
  }
}

async function countConsultas(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM consultas')).rows[0]!.n);
  } finally {
    await client.end();
  }
}

function uptime(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `load average: ${loadavg().map((n) => n.toFixed(2)).join(', ')}`;
  }
}

function report(input: {
  figures: Record<'json' | 'postgres', DriverFigures>;
  scale: ScaleRow[];
  importMs: number;
  stored: number;
  acknowledged: number;
  inFlight: number;
  loadBefore: string;
  loadAfter: string;
}): string[] {
  const { figures, scale } = input;
  const f = (n: number, digits = 0) => n.toFixed(digits);
  const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(0)}%`;
  const x = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  const m = (xs: number[]) => median(xs);
  const j = figures.json;
  const p = figures.postgres;
  const perRound = (a: number[], b: number[]) => {
    // In the order the rounds ran: a ratio that climbs round by round is a warm-up still going on.
    return a.map((v, i) => x(v, b[i]!)).join(', ');
  };
  const driverRow = (name: string, d: DriverFigures) =>
    `| ${name} | ${f(d.readyMs)} | ${f(m(d.health))} | ${f(m(d.bookings))} | ${pct(m(d.bookings), m(d.health))} | ${f(m(d.bookingP99), 1)} (${f(Math.max(...d.bookingP99), 1)}) | ${f(m(d.agenda))} | ${pct(m(d.agenda), m(d.health))} | ${f(m(d.agendaP99), 1)} | ${f(m(d.bookingCpuUs))} + ${f(m(d.bookingDbCpuUs))} | ${f(m(d.agendaCpuUs))} + ${f(m(d.agendaDbCpuUs))} | ${f(d.rssMb)} | ${d.refused} |`;
  const one = median(scale.filter((s) => s.processes === 1).map((s) => s.bookings));
  const byCount = [1, 2, 3].map((n) => {
    const rows = scale.filter((s) => s.processes === n);
    return {
      n,
      bookings: median(rows.map((s) => s.bookings)),
      each: rows.map((s) => f(s.bookings)).join(' / '),
      p99: median(rows.map((s) => s.p99)),
      serverCpuUs: median(rows.map((s) => s.serverCpuUs)),
      dbCpuUs: median(rows.map((s) => s.dbCpuUs)),
      busy: median(rows.map((s) => s.cores.servers + s.cores.database)),
      loader: median(rows.map((s) => s.cores.loader)),
      refused: rows.reduce((k, s) => k + s.refused, 0),
    };
  });
  // What any number of processes could reach on this machine if each booking cost what it costs with one process:
  // every core, over the cores a booking rate keeps busy — servers, database, and the load generator, whose work grows
  // with the rate too.
  const cores = availableParallelism();
  const alone = byCount[0]!;
  const ceiling = cores / (alone.busy + alone.loader);
  return [
    `Storage drivers (${quick ? 'quick' : 'full'}): ${SIZE.toLocaleString('en-US')} existing consultas, ${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${SECONDS}s per load, node ${process.version}`,
    `PostgreSQL: throwaway cluster (fsync=on, synchronous_commit=on, ${BENCH_CLUSTER_SETTINGS.join(', ')}), ${SIZE.toLocaleString('en-US')} consultas imported in ${f(input.importMs)} ms`,
    `Machine load before: ${input.loadBefore}`,
    `Machine load after:  ${input.loadAfter}`,
    '',
    '(medians of the rounds, the worst booking p99 in brackets; rates count 2xx only; CPU µs per 2xx answer as',
    'server process + database; "refused" counts any other answer or error in the agenda and booking loads)',
    '',
    '| driver | startup ms | GET /health req/s | bookings/s (201, durable) | bookings ÷ health | booking p99 ms | agenda req/s | agenda ÷ health | agenda p99 ms | CPU µs per booking | CPU µs per agenda | server RSS MB after the bookings | refused |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    driverRow('JSON files', j),
    driverRow('PostgreSQL', p),
    '',
    `CPU µs per booking, each round in order: PostgreSQL ${p.bookingCpuUs.map((v, i) => `${f(v)} + ${f(p.bookingDbCpuUs[i]!)}`).join(', ')}; JSON ${j.bookingCpuUs.map((v) => f(v)).join(', ')}`,
    '',
    '| PostgreSQL ÷ JSON | ratio of the medians | each round, in order |',
    '|---|---|---|',
    `| GET /health (asks each driver's storage whether it accepts writes) | ${x(m(p.health), m(j.health))} | ${perRound(p.health, j.health)} |`,
    `| **durable bookings/s** (target ≥ 0.5×) | **${x(m(p.bookings), m(j.bookings))}** | ${perRound(p.bookings, j.bookings)} |`,
    `| agenda req/s | ${x(m(p.agenda), m(j.agenda))} | ${perRound(p.agenda, j.agenda)} |`,
    `| booking p99 | ${x(m(p.bookingP99), m(j.bookingP99))} | ${perRound(p.bookingP99, j.bookingP99)} |`,
    `| server RSS after the bookings | ${x(p.rssMb, j.rssMb)} | |`,
    '',
    `Scale-up on one database: the ${CONNECTIONS} booking clients split across the processes (each its own port), counts run in the order ${PROCESS_COUNTS.join(', ')}.`,
    '',
    '| server processes | bookings/s (median; each run) | ÷ 1 process | booking p99 ms (worst process) | server CPU µs per booking (all processes) | database CPU µs per booking | cores busy: servers + database (load generator) | refused |',
    '|---|---|---|---|---|---|---|---|',
    ...byCount.map(
      (r) =>
        `| ${r.n} | ${f(r.bookings)} (${r.each}) | ${r.n === 1 ? '1.00×' : `**${x(r.bookings, one)}**`} | ${f(r.p99, 1)} | ${f(r.serverCpuUs)} | ${f(r.dbCpuUs)} | ${f(r.busy, 2)} (${f(r.loader, 2)}) | ${r.refused} |`,
    ),
    '',
    `Ceiling on this machine at this cost per booking: ${cores} cores. With one process, it and the database keep ${f(alone.busy, 2)} cores busy and the load ` +
      `generator ${f(alone.loader, 2)}. Even if added processes cost nothing more per booking than one does, any number of them can ` +
      `reach at most ${cores} ÷ (${f(alone.busy, 2)} + ${f(alone.loader, 2)}) = **${f(ceiling, 2)}×** one process's bookings/s.`,
    '',
    `Consultas in the database at the end: ${input.stored.toLocaleString('en-US')}; existing + every 201 of the PostgreSQL server(s): ${input.acknowledged.toLocaleString('en-US')}; ` +
      `${input.stored >= input.acknowledged && input.stored <= input.acknowledged + input.inFlight ? 'consistent' : 'INCONSISTENT'} ` +
      `(no 201 lost, at most ${input.inFlight.toLocaleString('en-US')} unanswered when loads ended).`,
    '',
  ];
}
