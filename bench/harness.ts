/**
 * What the end-to-end benches share: the fixture (50 médicos, 2,000 pacientes, N consultas), the server process
 * and its sign-in, autocannon loads and the /proc readings. `bench.ts` (the JSON driver, with and without auth)
 * and `storage-drivers.ts` (JSON beside PostgreSQL, and several processes on one database) both use it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import Holidays from 'date-holidays';
import { DateTime } from 'luxon';
import { formatInstant } from '../src/core/time.js';
import { DATA_FILE_END, dataFileHeader, dataFileLines } from '../src/infra/storage/json/data-files.js';
import type { Entity } from '../src/repositories/port.js';

export const quick = process.argv.includes('--quick');
/** `--node-flags="--optimize-for-size"`: flags for the server process, to try V8 settings. */
const serverFlags = process.argv.find((a) => a.startsWith('--node-flags='))?.slice(13).split(' ').filter(Boolean) ?? [];
/** Seconds per load, and how many times each load runs (interleaved; even, so each server goes first as often). */
export const SECONDS = quick ? 2 : 4;
export const ROUNDS = 4;
/** More bookings per second than the server can take here: how many request bodies to prepare. */
export const MAX_BOOKINGS_PER_S = 20_000;
export const CONNECTIONS = 50;
export const MEDICOS = 50;
export const PACIENTES = 2_000;
const ZONE = 'America/Sao_Paulo';
export const ROOT = path.resolve(import.meta.dirname, '..');
const SERVER = path.join(ROOT, 'dist', 'src', 'server.js');
const NO_AUTH = path.join(ROOT, 'bench', 'no-auth', 'register.mjs');
const ADMIN_EMAIL = 'bench@clinica.local';
const ADMIN_SENHA = 'bench-senha-longa-0123';

const now = new Date().toISOString();
export const medicoIds = Array.from({ length: MEDICOS }, () => randomUUID());
const pacienteIds = Array.from({ length: PACIENTES }, () => randomUUID());
/** Every médico works every day 08:00–18:00 in 10-minute slots: 60 slots a day each. */
const SLOT_MIN = 10;
const SLOTS_PER_DAY = 60;
/** The first day of the existing consultas, and of the agenda the loads ask for (a working day: 1 January is not). */
export const FIRST_DAY = '2030-01-02';

function cpf(n: number): string {
  const base = String(100_000_000 + n).slice(-9);
  const digit = (digits: string) => {
    let sum = 0;
    for (let i = 0; i < digits.length; i++) sum += Number(digits[i]) * (digits.length + 1 - i);
    const rest = (sum * 10) % 11;
    return rest === 10 ? 0 : rest;
  };
  const d1 = digit(base);
  return base + d1 + digit(base + d1);
}

/**
 * The national holidays that close the clinic (date-holidays' `public` days, as `FeriadoService` reads them; its
 * `bank` days are pontos facultativos and stay open). The server refuses bookings on them (422), so the slots
 * the loads book skip them: a load that started on 1 January used to spend its first day on refusals.
 */
const calendar = new Holidays('BR', { languages: ['pt'], timezone: 'UTC' });
const closedYears = new Map<number, Set<string>>();
function closed(date: string): boolean {
  const year = Number(date.slice(0, 4));
  let days = closedYears.get(year);
  if (!days) closedYears.set(year, (days = new Set(calendar.getHolidays(year, 'pt').filter((h) => h.type === 'public').map((h) => h.date.slice(0, 10)))));
  return days.has(date);
}

/** Per first day: 08:00 of each working day from it, in order (luxon once per day: bodies are built by the hundred thousand). */
const workingDays = new Map<string, number[]>();
/** 08:00 in the clinic's zone of the `day`-th working day from `firstDay` (holidays skipped). */
function dayStart(firstDay: string, day: number): number {
  let days = workingDays.get(firstDay);
  if (!days) workingDays.set(firstDay, (days = []));
  let next = days.length === 0 ? DateTime.fromISO(firstDay, { zone: ZONE }) : DateTime.fromMillis(days.at(-1)!, { zone: ZONE }).plus({ days: 1 });
  while (days.length <= day) {
    if (!closed(next.toISODate()!)) days.push(next.set({ hour: 8 }).toMillis());
    next = next.plus({ days: 1 });
  }
  return days[day]!;
}

/** The k-th slot from `firstDay`: day by day (working days only), time by time, médico by médico. */
export function slot(firstDay: string, k: number) {
  const perDay = SLOTS_PER_DAY * MEDICOS;
  const start = dayStart(firstDay, Math.floor(k / perDay)) + Math.floor((k % perDay) / MEDICOS) * SLOT_MIN * 60_000;
  return {
    medicoId: medicoIds[k % MEDICOS]!,
    inicio: formatInstant(start, ZONE),
    fim: formatInstant(start + SLOT_MIN * 60_000, ZONE),
    // Different médicos at one time get different pacientes, so the paciente rule never refuses.
    pacienteId: pacienteIds[k % PACIENTES]!,
  };
}

/** `count` booking bodies from `firstDay` on, as JSON, built before a load's clock starts. */
export function bookingBodies(firstDay: string, count: number): string[] {
  return Array.from({ length: count }, (_, k) => {
    const { medicoId, pacienteId, inicio } = slot(firstDay, k);
    return JSON.stringify({ medicoId, pacienteId, inicio });
  });
}

/** The fixture's records by collection: médicos, pacientes and `existing` consultas from {@link FIRST_DAY}. */
export function fixtureRecords(existing: number): Record<string, { id: string }[]> {
  return {
    medicos: medicoIds.map((id, i) => ({
      id, nome: `Médico ${i}`, crm: `${10_000 + i}/SP`, especialidade: 'Clínica geral', email: null, telefone: null,
      duracaoConsultaMin: SLOT_MIN, ativo: true,
      horarios: [0, 1, 2, 3, 4, 5, 6].map((diaSemana) => ({ diaSemana, inicio: '08:00', fim: '18:00' })),
      criadoEm: now, atualizadoEm: now,
    })),
    pacientes: pacienteIds.map((id, i) => ({
      id, nome: `Paciente ${i}`, cpf: cpf(i), dataNascimento: '1980-01-01', email: null, telefone: null, criadoEm: now, atualizadoEm: now,
    })),
    consultas: Array.from({ length: existing }, (_, k) => ({
      id: randomUUID(), ...slot(FIRST_DAY, k), status: 'agendada', observacoes: null, motivoCancelamento: null, criadaEm: now, atualizadaEm: now,
    })),
  };
}

/** A data directory of the JSON driver holding the fixture (or `records`, to give another driver the same ones). */
export function writeDataDir(existing: number, records = fixtureRecords(existing)): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'agenda-bench-'));
  // In the store's own layout (`FileStore.writeDataFile`): one record per line.
  const file = (collection: string, records: readonly Entity[]) =>
    writeFileSync(
      path.join(dir, `${collection}.json`),
      `${dataFileHeader(collection, 0)}${records.length > 0 ? dataFileLines(records, true) : ''}${DATA_FILE_END}`,
    );
  for (const [collection, list] of Object.entries(records)) file(collection, list);
  file('idempotencia', []);
  writeFileSync(path.join(dir, 'journal.wal'), '');
  return dir;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A running server and the headers its requests carry (the bearer token, or nothing without auth). */
export interface Server {
  child: ChildProcess;
  url: string;
  readyMs: number;
  headers: Record<string, string>;
}

/**
 * Starts `dist/src/server.js` (or `script`: another build, such as a worktree's) on `dataDir` and signs in. `env`
 * adds to the server's environment (for example `STORAGE=postgres` and `DATABASE_URL`; `DATA_DIR` then holds only
 * the audit files and backups).
 */
export async function startServer(dataDir: string, auth: boolean, env: Record<string, string> = {}, script = SERVER): Promise<Server> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [...serverFlags, ...(auth ? [] : ['--import', NO_AUTH]), script], {
    env: {
      ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', SEED: 'false', LOG_LEVEL: 'warn', BACKUP_INTERVAL_MIN: '0',
      ADMIN_EMAIL, ADMIN_SENHA, WRITE_RATE_LIMIT: '0', SSE_MAX_PER_SESSION: '2000', SSE_MAX_PER_USER: '2000',
      // The data and the loads sit in 2030–2034: the booking horizon must reach them.
      AGENDA_HORIZONTE_DIAS: '3650',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error('o servidor saiu antes de ficar pronto');
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const readyMs = performance.now() - started;
  let headers: Record<string, string> = {};
  if (auth) {
    const res = await fetch(`${url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: ADMIN_EMAIL, senha: ADMIN_SENHA }) });
    if (res.status !== 200) throw new Error(`login falhou: ${res.status} ${await res.text()}`);
    headers = { authorization: `Bearer ${((await res.json()) as { token: string }).token}` };
  }
  // Proof that the two servers differ as claimed: without a session, only the no-auth one answers.
  const probe = `${url}/medicos/${medicoIds[0]}/agenda?data=${FIRST_DAY}`;
  const anonymous = (await fetch(probe)).status;
  const signed = (await fetch(probe, { headers })).status;
  if (signed !== 200 || anonymous !== (auth ? 401 : 200)) throw new Error(`servidor ${auth ? 'com' : 'sem'} auth respondeu ${anonymous} sem sessão e ${signed} com`);
  return { child, url, readyMs, headers };
}

export async function stop(server: Server | undefined): Promise<void> {
  if (!server || server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
}

export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** CPU time the process has used so far (user + system, every thread), in ms; /proc counts in 10 ms ticks. */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * A load, and the server's CPU time per 2xx answer during it (µs). Throughput on a shared machine moves with
 * whatever else runs; the CPU each answer costs the server moves far less, so it is the steadier measure of
 * what a code path costs.
 */
export async function loadWithCpu(pid: number, run: () => Promise<autocannon.Result>): Promise<autocannon.Result & { cpuUs: number }> {
  const before = cpuMs(pid);
  const result = await run();
  return Object.assign(result, { cpuUs: ((cpuMs(pid) - before) * 1000) / Math.max(1, result['2xx']) });
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export async function load(options: autocannon.Options): Promise<autocannon.Result> {
  return autocannon({ connections: CONNECTIONS, duration: SECONDS, ...options });
}

/** 2xx answers per second of a load. */
export const rate = (r: autocannon.Result): number => r['2xx'] / r.duration;

/**
 * A booking load: POST /consultas/agendar with `connections` clients for `duration` s, each request the next slot
 * from `firstDay`. Bodies are built before the clock starts: on two shared cores, building them during the load
 * (luxon, JSON) took CPU from the server and cut its measured rate by a quarter.
 */
export function bookingLoad(server: Server, bodies: readonly string[], duration: number, connections = CONNECTIONS): Promise<autocannon.Result> {
  let next = 0;
  return load({
    url: server.url,
    duration,
    connections,
    requests: [
      {
        method: 'POST',
        path: '/consultas/agendar',
        headers: { ...server.headers, 'content-type': 'application/json' },
        // Past the prepared bodies (not reached on this machine) a request would repeat a slot: a 409, counted as refused.
        setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length] }),
      },
    ],
  });
}
