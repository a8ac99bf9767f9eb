/**
 * `npm run bench:pg-ab -- --b=NAME=VALUE[,NAME=VALUE…] [--a=…] [--size=N --rounds=R --seconds=S --warmup=S]`: two server
 * configurations on ONE throwaway cluster and ONE imported fixture, measured in alternating rounds of the booking
 * load. On this shared machine two runs a minute apart differ by a third, so a change is judged by the ratio of
 * rounds run side by side, not by two separate runs. Each round starts its server, warms it up, measures, and stops
 * it, so the other configuration's server neither competes for the two cores nor reads the running one's feed
 * (stopping it with SIGSTOP instead could freeze it inside a transaction, holding locks the other then waits for).
 * Before each round the database is vacuumed, analysed and checkpointed. Prints each round, then medians and B ÷ A.
 * The environment given to A and B is added to the server's (for example `NODE_OPTIONS=…` or a driver setting);
 * in its values, `{url}` and `{socketUrl}` stand for the cluster's TCP and Unix-socket URLs
 * (`--b=DATABASE_URL={socketUrl}`). `--a-server=PATH` / `--b-server=PATH` run another build's `server.js` for that
 * configuration: to compare two commits, build the older one in a worktree and pass its
 * `dist/src/server.js` as `--a-server`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startPostgres } from '../tests/helpers/postgres.js';
import { BENCH_CLUSTER_SETTINGS, databaseCpuMs, importFixture, settle } from './storage-drivers.js';
import { bookingBodies, bookingLoad, cpuMs, fixtureRecords, rate, startServer, stop, type Server } from './harness.js';

const option = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const arg = (name: string, fallback: number) => Number(option(name) ?? fallback);
const envOf = (text: string | undefined): Record<string, string> =>
  Object.fromEntries((text ?? '').split(',').filter(Boolean).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));

const SIZE = arg('size', 100_000);
const ROUNDS = arg('rounds', 6);
const SECONDS = arg('seconds', 4);
const configs = { A: envOf(option('a')), B: envOf(option('b')) };
const scripts = { A: option('a-server'), B: option('b-server') };
/**
 * `--warmup=S`: seconds of bookings that warm a freshly started server up before its round is measured. After 2 s V8's
 * optimising compiler still takes about 14% of the server's CPU (`bench:pg-profile --perf`), which hides differences
 * on the booking path; 8 s or more measures warm code.
 */
const WARM_UP_S = arg('warmup', 2);

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;

const cluster = await startPostgres({ settings: BENCH_CLUSTER_SETTINGS });
const dataDir = mkdtempSync(path.join(tmpdir(), 'agenda-ab-'));
let server: Server | undefined;
try {
  await (await importFixture(cluster.url, fixtureRecords(SIZE))).close();
  process.stdout.write(`A: ${JSON.stringify(configs.A)} ${scripts.A ?? ''}  B: ${JSON.stringify(configs.B)} ${scripts.B ?? ''}  size ${SIZE}, ${ROUNDS} rounds of ${SECONDS} s each\n`);
  const figures: Record<'A' | 'B', { rate: number; server: number; db: number }[]> = { A: [], B: [] };
  const envs = Object.fromEntries(
    Object.entries(configs).map(([name, env]) => [
      name,
      Object.fromEntries(Object.entries(env).map(([key, value]) => [key, value.replaceAll('{url}', cluster.url).replaceAll('{socketUrl}', cluster.socketUrl)])),
    ]),
  ) as Record<'A' | 'B', Record<string, string>>;
  // A month of slots per load, warm-ups included: no load repeats another's slot.
  let months = 0;
  const month = () => `20${31 + Math.floor(months / 12)}-${String((months++ % 12) + 1).padStart(2, '0')}-01`;
  for (let round = 0; round < ROUNDS; round++) {
    // Each pair of rounds starts with the other configuration than the last pair did.
    const order: ('A' | 'B')[] = round % 2 === 0 ? ['A', 'B'] : ['B', 'A'];
    for (const name of order) {
      // The cluster grows by each round's bookings, feed, audit and task rows; autovacuum and checkpoints would land
      // in whichever round they fall in, counted as that round's database CPU per booking (it climbed from 626 to
      // 1,161 µs across one run, for both builds). Each round starts from a settled database instead.
      await settle(cluster.url);
      server = await startServer(dataDir, true, { STORAGE: 'postgres', DATABASE_URL: cluster.url, ...envs[name] }, scripts[name]);
      await bookingLoad(server, bookingBodies(month(), 5_000 * WARM_UP_S), WARM_UP_S);
      const bodies = bookingBodies(month(), 60_000);
      const cpu0 = cpuMs(server.child.pid!);
      const db0 = databaseCpuMs(cluster);
      const result = await bookingLoad(server, bodies, SECONDS);
      const n = Math.max(1, result['2xx']);
      const row = { rate: rate(result), server: ((cpuMs(server.child.pid!) - cpu0) * 1000) / n, db: ((databaseCpuMs(cluster) - db0) * 1000) / n };
      figures[name].push(row);
      await stop(server);
      process.stdout.write(`round ${round + 1} ${name}: ${row.rate.toFixed(0)} bookings/s, ${result.non2xx} other answers, CPU per booking server ${row.server.toFixed(0)} µs + database ${row.db.toFixed(0)} µs\n`);
    }
  }
  const summary = (name: 'A' | 'B') => {
    const f = figures[name];
    return { rate: median(f.map((r) => r.rate)), server: median(f.map((r) => r.server)), db: median(f.map((r) => r.db)) };
  };
  const a = summary('A');
  const b = summary('B');
  const pairs = figures.A.map((r, i) => figures.B[i]!.rate / r.rate);
  process.stdout.write(
    `medians: A ${a.rate.toFixed(0)}/s (server ${a.server.toFixed(0)} + db ${a.db.toFixed(0)} µs), B ${b.rate.toFixed(0)}/s (server ${b.server.toFixed(0)} + db ${b.db.toFixed(0)} µs)\n` +
      `B ÷ A: ${(b.rate / a.rate).toFixed(3)} (per round: ${pairs.map((p) => p.toFixed(2)).join(' ')})\n`,
  );
} finally {
  await stop(server);
  await cluster.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
