/**
 * End-to-end benchmark: the real server in its own process, on a temp data directory filled with
 * 1k / 10k / 100k existing consultas, driven over HTTP by autocannon with 50 concurrent connections.
 *
 *   npm run bench              (1k, 10k, 100k; about 6 minutes)
 *   npm run bench -- --quick   (1k and 100k only, short rounds)
 *   npm run bench -- --storage=postgres [--quick] [--size=N]   (the JSON driver beside PostgreSQL at 100k, and 1–3
 *                                                   processes on one database: see storage-drivers.ts)
 *
 * Every figure is printed beside the reference it is compared to, measured in the same run on the
 * same server (the machines are shared and noisy: ratios travel, absolute numbers do not).
 * Bookings are durable: each 201 was fdatasync'ed before it was sent.
 *
 * Authentication is on: the bench signs in as the first-start admin (`ADMIN_EMAIL`/`ADMIN_SENHA`) and every
 * request but `/health` carries `Authorization: Bearer <token>`; every write stages its audit entry. The
 * server runs with `WRITE_RATE_LIMIT=0` (one session books thousands per second here) and
 * `SSE_MAX_PER_SESSION=2000` and `SSE_MAX_PER_USER=2000` (the 1,000 fan-out streams share that one session).
 *
 * "Without auth": a second server, started at the same time from the same `dist/` over an identical copy
 * of the data, through `bench/no-auth/register.mjs`, a module-loader hook that swaps `http/auth.js`'s
 * `authenticate` for one that puts a fixed admin actor into the request context (no header read, no token
 * hash, no session or user lookup, no renewal) and `authorize` for a pass-through. Everything else is the
 * same code: CSRF origin guard, rate-limit middleware (off in both), validation, audit entries. Its requests
 * carry no Authorization header, as before access control. The two servers take turns on each load, in
 * alternating order from round to round, and `GET /health` (public, identical in both) is measured on both
 * as a control: its ratio shows what the noise alone does to a ratio. The server itself has no switch to turn
 * access control off.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { DateTime } from 'luxon';
import {
  bookingBodies, bookingLoad, CONNECTIONS, FIRST_DAY, load, loadWithCpu, MAX_BOOKINGS_PER_S, MEDICOS, medicoIds, median, PACIENTES, quick, rate,
  ROOT, ROUNDS, rssMb, SECONDS, type Server, slot, startServer, stop, writeDataDir,
} from './harness.js';
import { compareDrivers } from './storage-drivers.js';

const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
const SIZES = only ? only.split(',').map(Number) : quick ? [1_000, 100_000] : [1_000, 10_000, 100_000];

interface Row {
  size: number;
  backupMs: number;
  reportMs: number;
  agendaDuringReportP99: number;
  fanoutP99: number;
  fanoutMissing: number;
  rssWithClientsMb: number;
  readyMs: number;
  health: number;
  agenda: number;
  agendaP99: number;
  bookings: number;
  bookingP99: number;
  bookingP99Worst: number;
  refused: number;
  rssMb: number;
  /** GET /horarios-livres from the first day of the existing consultas (with auth): req/s, p99, non-2xx, first slot found. */
  livres: { rate: number; p99: number; refused: number; first: string };
  /** The same loads on the server without auth (medians of its rounds). */
  plain: { health: number; agenda: number; agendaP99: number; bookings: number; bookingP99: number; refused: number };
  /** With auth ÷ without, round by round (the two ran back to back in each round). */
  roundRatios: { health: number[]; agenda: number[]; bookings: number[] };
  /** Server CPU µs per 2xx answer, [with auth, without] (medians of the rounds). */
  cpuUs: { health: [number, number]; agenda: [number, number]; bookings: [number, number] };
}

/**
 * SSE fan-out: `clients` EventStreams on the agenda, then bookings one after another. For every booking and
 * every client: the time from the booking's 201 reaching its client to the `horario_ocupado` event reaching
 * that stream client (negative when the event came first; the server publishes before it answers).
 */
async function fanout(server: Server, clients: number, bookings: number, first: number): Promise<{ p99: number; max: number; rssMb: number; missing: number }> {
  const { url, headers } = server;
  const arrivals: Map<string, number>[] = [];
  const requests: http.ClientRequest[] = [];
  await Promise.all(
    Array.from({ length: clients }, (_, i) =>
      new Promise<void>((resolve, reject) => {
        const seen = new Map<string, number>();
        arrivals.push(seen);
        let tail = '';
        const req = http.get(`${url}/sistema/agenda/stream`, { agent: false, headers }, (res) => {
          if (res.statusCode !== 200) reject(new Error(`stream: ${res.statusCode}`));
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            const now = performance.now();
            const text = tail + chunk;
            for (const m of text.matchAll(/"consultaId":"([0-9a-f-]{36})"/g)) if (!seen.has(m[1]!)) seen.set(m[1]!, now);
            tail = text.slice(-80);
          });
          resolve();
        });
        req.on('error', reject);
        requests.push(req);
        void i;
      }),
    ),
  );
  const done: { id: string; at: number }[] = [];
  for (let k = 0; k < bookings; k++) {
    const { medicoId, pacienteId, inicio } = slot('2033-01-01', first + k);
    const res = await fetch(`${url}/consultas/agendar`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ medicoId, pacienteId, inicio }) });
    const at = performance.now();
    if (res.status === 201) done.push({ id: ((await res.json()) as { id: string }).id, at });
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const latencies: number[] = [];
  let missing = 0;
  for (const booking of done) {
    for (const seen of arrivals) {
      const t = seen.get(booking.id);
      if (t === undefined) missing++;
      else latencies.push(t - booking.at);
    }
  }
  latencies.sort((a, b) => a - b);
  const rssMbNow = rssMb(server.child.pid!);
  for (const req of requests) req.destroy();
  return { p99: latencies[Math.floor(latencies.length * 0.99)] ?? Number.NaN, max: latencies.at(-1) ?? Number.NaN, rssMb: rssMbNow, missing };
}

/**
 * `fetch`, tried once more when the connection was reset before any answer (a kept-alive socket the server
 * closed as idle just as it was reused: seen once on the shared machine, between the load rounds and the tasks).
 */
async function fetchRetry(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    if ((error as { cause?: { code?: string } }).cause?.code !== 'ECONNRESET') throw error;
    process.stderr.write(`bench: ${url} ECONNRESET, tentando de novo\n`);
    return fetch(url, init);
  }
}

/** Posts a task and waits (polling) until it is done; returns the wall time in ms. */
async function timeTask({ url, headers }: Server, route: string, body: unknown): Promise<number> {
  const started = performance.now();
  const res = await fetchRetry(`${url}${route}`, {
    method: 'POST',
    headers: body ? { ...headers, 'content-type': 'application/json' } : headers,
    body: body ? JSON.stringify(body) : undefined,
  });
  const task = (await res.json()) as { id: string };
  for (;;) {
    const state = (await (await fetchRetry(`${url}/sistema/tasks/${task.id}`, { headers })).json()) as { status: string; erro?: unknown };
    if (state.status === 'concluida') return performance.now() - started;
    if (state.status === 'falhou') throw new Error(`tarefa ${route} falhou: ${JSON.stringify(state.erro)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The loads of one round on one server. */
interface Round {
  health: autocannon.Result & { cpuUs: number };
  agenda: autocannon.Result & { cpuUs: number };
  bookings: autocannon.Result & { cpuUs: number };
}

async function measure(size: number): Promise<Row> {
  const dir = writeDataDir(size);
  const plainDir = mkdtempSync(path.join(tmpdir(), 'agenda-bench-sem-auth-'));
  cpSync(dir, plainDir, { recursive: true });
  let auth: Server | undefined;
  let plain: Server | undefined;
  try {
    auth = await startServer(dir, true);
    plain = await startServer(plainDir, false);
    const agendaLoad = (server: Server, duration?: number) =>
      load({ url: `${server.url}/medicos/${medicoIds[0]}/agenda?data=${FIRST_DAY}`, headers: server.headers, ...(duration ? { duration } : {}) });
    const bookings = (server: Server, firstDay: string, duration: number) =>
      bookingLoad(server, bookingBodies(firstDay, duration * MAX_BOOKINGS_PER_S), duration);
    // Warm up (JIT, caches) so the first figure is not penalised.
    for (const server of [auth, plain]) {
      await load({ url: `${server.url}/health`, duration: 1 });
      await agendaLoad(server, 1);
    }
    // SSE fan-out and memory first, while the server holds exactly `size` consultas (+30 booked here).
    const fan = await fanout(auth, 1000, 30, 0);
    for (const server of [auth, plain]) await bookings(server, '2034-01-01', 1); // warm-up of the booking path
    // Each load takes turns on the two servers, ROUNDS times, the first server alternating from round to round, and
    // each figure is the median of its rounds: a noisy moment of the shared machine then spoils one round of one
    // figure instead of the whole ratio.
    const rounds = { auth: [] as Round[], plain: [] as Round[] };
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? (['auth', 'plain'] as const) : (['plain', 'auth'] as const);
      const servers = { auth, plain };
      const round: Partial<Record<'auth' | 'plain', Partial<Round>>> = { auth: {}, plain: {} };
      const pid = (which: 'auth' | 'plain') => servers[which].child.pid!;
      for (const which of order) round[which]!.health = await loadWithCpu(pid(which), () => load({ url: `${servers[which].url}/health` }));
      for (const which of order) round[which]!.agenda = await loadWithCpu(pid(which), () => agendaLoad(servers[which]));
      // Each round books its own months, so no round meets another's slots (each server has its own data).
      const month = `2032-${String(1 + 3 * r).padStart(2, '0')}-01`;
      for (const which of order) round[which]!.bookings = await loadWithCpu(pid(which), () => bookings(servers[which], month, SECONDS));
      rounds.auth.push(round.auth as Round);
      rounds.plain.push(round.plain as Round);
    }
    await stop(plain);
    // Next free slots of 50 médicos from the day the existing consultas start: every slot before the first free one
    // is occupied (100k consultas fill 33 days of all 50 médicos), so each request walks all of those days.
    const livresUrl = `${auth.url}/horarios-livres?especialidade=${encodeURIComponent('Clínica geral')}&de=${FIRST_DAY}&limit=10`;
    const livresFirst = ((await (await fetch(livresUrl, { headers: auth.headers })).json()) as { items: { inicio: string }[] }).items[0]?.inicio ?? '-';
    const livresLoad = await load({ url: livresUrl, headers: auth.headers });
    const ratios = (pick: (x: Round) => autocannon.Result) => rounds.auth.map((x, i) => rate(pick(x)) / rate(pick(rounds.plain[i]!)));
    const refused = (list: Round[]) => list.reduce((n, x) => n + x.bookings.non2xx + x.bookings.errors + x.health.non2xx + x.agenda.non2xx, 0);
    const a = rounds.auth;
    const p = rounds.plain;

    // Operations: a backup, then agenda load while a PDF report of every consulta is built.
    const backupMs = await timeTask(auth, '/sistema/tasks/backup', undefined);
    const reportStart = performance.now();
    const reportDone = timeTask(auth, '/sistema/tasks/relatorio', { de: FIRST_DAY, ate: '2030-12-31' });
    const during = await agendaLoad(auth, 5);
    await reportDone;
    const reportMs = performance.now() - reportStart;
    return {
      size,
      backupMs,
      reportMs,
      agendaDuringReportP99: during.latency.p99,
      fanoutP99: fan.p99,
      fanoutMissing: fan.missing,
      rssWithClientsMb: fan.rssMb,
      readyMs: auth.readyMs,
      health: median(a.map((x) => rate(x.health))),
      agenda: median(a.map((x) => rate(x.agenda))),
      agendaP99: median(a.map((x) => x.agenda.latency.p99)),
      bookings: median(a.map((x) => rate(x.bookings))),
      bookingP99: median(a.map((x) => x.bookings.latency.p99)),
      bookingP99Worst: Math.max(...a.map((x) => x.bookings.latency.p99)),
      refused: refused(a),
      rssMb: rssMb(auth.child.pid!),
      livres: { rate: rate(livresLoad), p99: livresLoad.latency.p99, refused: livresLoad.non2xx + livresLoad.errors, first: livresFirst },
      plain: {
        health: median(p.map((x) => rate(x.health))),
        agenda: median(p.map((x) => rate(x.agenda))),
        agendaP99: median(p.map((x) => x.agenda.latency.p99)),
        bookings: median(p.map((x) => rate(x.bookings))),
        bookingP99: median(p.map((x) => x.bookings.latency.p99)),
        refused: refused(p),
      },
      cpuUs: {
        health: [median(a.map((x) => x.health.cpuUs)), median(p.map((x) => x.health.cpuUs))],
        agenda: [median(a.map((x) => x.agenda.cpuUs)), median(p.map((x) => x.agenda.cpuUs))],
        bookings: [median(a.map((x) => x.bookings.cpuUs)), median(p.map((x) => x.bookings.cpuUs))],
      },
      roundRatios: { health: ratios((x) => x.health), agenda: ratios((x) => x.agenda), bookings: ratios((x) => x.bookings) },
    };
  } finally {
    await stop(plain);
    await stop(auth);
    rmSync(dir, { recursive: true, force: true });
    rmSync(plainDir, { recursive: true, force: true });
  }
}

// ---- Issue 10: an uncached 31-day agenda of a 5-minute-slot médico (about 1 MB), /health measured meanwhile ----

/**
 * A médico working 00:00–24:00 every day in 5-minute slots; 10 clients ask for its 31-day agenda over and over,
 * each request a different range (so the answer cache never hits), while one client measures `GET /health`.
 * The goal: /health p99 under 50 ms with the 10 agenda requests in flight.
 */
async function agenda31(): Promise<string[]> {
  const dir = writeDataDir(0);
  const server = await startServer(dir, true);
  try {
    const headers = { ...server.headers, 'content-type': 'application/json' };
    const horarios = [0, 1, 2, 3, 4, 5, 6].map((diaSemana) => ({ diaSemana, inicio: '00:00', fim: '24:00' }));
    const created = await fetch(`${server.url}/medicos`, {
      method: 'POST', headers, body: JSON.stringify({ nome: 'Plantão', crm: '777777/SP', especialidade: 'Clínica geral', duracaoConsultaMin: 5, horarios }),
    });
    const medico = (await created.json()) as { id: string };
    const seconds = quick ? 3 : 6;
    const idle = await healthInOwnProcess(`${server.url}/health`, seconds);
    let next = 0;
    // Each request a different 31-day range (a day later each time, then the next year), so no answer is cached.
    const nextPath = () => {
      const k = next++;
      const de = DateTime.fromISO('2027-01-01', { zone: 'UTC' }).plus({ days: k % 300, years: Math.floor(k / 300) });
      return `/medicos/${medico.id}/agenda?de=${de.toISODate()}&ate=${de.plus({ days: 30 }).toISODate()}`;
    };
    const sample = await fetch(`${server.url}${nextPath()}`, { headers: server.headers });
    const bytes = (await sample.arrayBuffer()).byteLength;
    for (let i = 0; i < 20; i++) await (await fetch(`${server.url}${nextPath()}`, { headers: server.headers })).arrayBuffer(); // warm-up (JIT)
    // /health is timed from a process of its own: this one is busy reading 10 agendas' megabytes, and its own
    // delays would be counted as the server's.
    const [busy, agenda] = await Promise.all([
      healthInOwnProcess(`${server.url}/health`, seconds),
      autocannon({
        url: server.url, connections: 10, duration: seconds, headers: server.headers,
        requests: [{ method: 'GET', setupRequest: (req: object) => ({ ...req, path: nextPath() }) }],
      } as autocannon.Options),
    ]);
    return [
      '',
      `Uncached 31-day agenda of a 5-minute-slot médico working 24 h (${(bytes / 1e6).toFixed(2)} MB each), 10 clients at once for ${seconds}s, every request a different range:`,
      '',
      '| agenda req/s | agenda p50 ms | agenda p99 ms | GET /health p99 ms idle | GET /health p99 ms during | GET /health max ms during |',
      '|---|---|---|---|---|---|',
      `| ${(agenda['2xx'] / seconds).toFixed(0)} | ${agenda.latency.p50} | ${agenda.latency.p99} | ${idle.latency.p99} | ${busy.latency.p99} | ${busy.latency.max} |`,
      '',
    ];
  } finally {
    await stop(server);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `GET url` with one connection for `seconds`, by autocannon's command line in a process of its own. */
async function healthInOwnProcess(url: string, seconds: number): Promise<autocannon.Result> {
  const child = spawn(process.execPath, [path.join(ROOT, 'node_modules/autocannon/autocannon.js'), '-j', '-c', '1', '-d', String(seconds), url], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`autocannon saiu com ${String(code)}`);
  return JSON.parse(out) as autocannon.Result;
}

if (process.argv.includes('--storage=postgres')) {
  process.stdout.write((await compareDrivers()).join('\n'));
  process.exit(0);
}

if (process.argv.includes('--agenda31')) {
  process.stdout.write((await agenda31()).join('\n'));
  process.exit(0);
}

const rows: Row[] = [];
for (const size of SIZES) rows.push(await measure(size));

const base = rows[0]!;
const f = (n: number, digits = 0) => n.toFixed(digits);
const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(0)}%`;
const range = (xs: number[]) => `${pct(Math.min(...xs), 1)}–${pct(Math.max(...xs), 1)}`;
const lines = [
  `Agenda Médica benchmark (${quick ? 'quick' : 'full'}): ${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${SECONDS}s per load, node ${process.version}, ${MEDICOS} médicos, ${PACIENTES} pacientes`,
  'Authentication on: requests carry a bearer session of the admin; WRITE_RATE_LIMIT=0 (one session books thousands a second),',
  'SSE_MAX_PER_SESSION=2000 and SSE_MAX_PER_USER=2000 (the 1,000 fan-out streams share the session).',
  '',
  '(rates and p99s are medians of the rounds, the worst booking p99 in brackets; every rate counts 2xx answers only;',
  '"refused" counts any other answer or error in the three loads)',
  '',
  '| existing consultas | startup ms | GET /health req/s | bookings/s (201, fsynced) | bookings ÷ health | bookings ÷ at 1k | booking p99 ms | agenda req/s | agenda ÷ health | agenda p99 ms | refused | server RSS MB after the booking load |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) =>
    [
      r.size.toLocaleString('en-US'), f(r.readyMs), f(r.health), f(r.bookings), pct(r.bookings, r.health), pct(r.bookings, base.bookings),
      `${f(r.bookingP99, 1)} (${f(r.bookingP99Worst, 1)})`, f(r.agenda), pct(r.agenda, r.health), f(r.agendaP99, 1), String(r.refused), f(r.rssMb),
    ].join(' | ').replace(/^/, '| ').concat(' |'),
  ),
  '',
  '| existing consultas | SSE fan-out to 1,000 clients, p99 ms after the 201 | events missed | server RSS MB with 1,000 SSE clients (before the booking load) |',
  '|---|---|---|---|',
  ...rows.map((r) => `| ${r.size.toLocaleString('en-US')} | ${f(r.fanoutP99, 1)} | ${r.fanoutMissing} | ${f(r.rssWithClientsMb)} |`),
  '',
  'With auth vs without (same run, same dist/, identical data, servers taking turns on each load; "without" = authenticate',
  'puts a fixed admin into the request context, authorize lets all through, no Authorization header; see bench/bench.ts).',
  'Ratios: with ÷ without of the medians, per-round range in brackets. GET /health is public in both: its ratio is the noise.',
  '',
  '| existing consultas | health with / without (control) | ratio | agenda req/s with auth | without | ratio | agenda p99 ms with / without | bookings/s with auth | without | ratio | booking p99 ms with / without | refused without |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) =>
    [
      r.size.toLocaleString('en-US'), `${f(r.health)} / ${f(r.plain.health)}`, `${pct(r.health, r.plain.health)} (${range(r.roundRatios.health)})`,
      f(r.agenda), f(r.plain.agenda), `**${pct(r.agenda, r.plain.agenda)}** (${range(r.roundRatios.agenda)})`, `${f(r.agendaP99, 1)} / ${f(r.plain.agendaP99, 1)}`,
      f(r.bookings), f(r.plain.bookings), `**${pct(r.bookings, r.plain.bookings)}** (${range(r.roundRatios.bookings)})`, `${f(r.bookingP99, 1)} / ${f(r.plain.bookingP99, 1)}`,
      String(r.plain.refused),
    ].join(' | ').replace(/^/, '| ').concat(' |'),
  ),
  '',
  'Server CPU per 2xx answer, µs (from /proc/<pid>/stat over each load; medians of the rounds): with auth / without → ratio.',
  '',
  '| existing consultas | GET /health (control) | agenda | booking |',
  '|---|---|---|---|',
  ...rows.map((r) => {
    const cell = ([w, wo]: [number, number]) => `${f(w)} / ${f(wo)} → ${pct(w, wo)}`;
    return `| ${r.size.toLocaleString('en-US')} | ${cell(r.cpuUs.health)} | **${cell(r.cpuUs.agenda)}** | **${cell(r.cpuUs.bookings)}** |`;
  }),
  '',
  `| existing consultas | GET /horarios-livres req/s (${MEDICOS} médicos, limit 10, from the first booked day) | p99 ms | refused | first free slot found |`,
  '|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.size.toLocaleString('en-US')} | ${f(r.livres.rate)} | ${f(r.livres.p99, 1)} | ${r.livres.refused} | ${r.livres.first} |`),
  '',
  '| existing consultas | backup ms | PDF report of all, ms | agenda p99 idle ms | agenda p99 during report ms | during ÷ idle |',
  '|---|---|---|---|---|---|',
  ...rows.map((r) =>
    `| ${r.size.toLocaleString('en-US')} | ${f(r.backupMs)} | ${f(r.reportMs)} | ${f(r.agendaP99, 1)} | ${f(r.agendaDuringReportP99, 1)} | ${(r.agendaDuringReportP99 / Math.max(1, r.agendaP99)).toFixed(2)} |`,
  ),
  '',
];
lines.push(...(await agenda31()));
process.stdout.write(lines.join('\n'));
