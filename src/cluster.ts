/**
 * Several server processes behind one port, with `node:cluster`: the primary process only forks and watches;
 * each worker is a whole server (`server.ts`) on the same storage. The primary hands incoming connections to
 * the workers in turn, so one port serves them all, and an event stream works whichever worker holds it: a
 * booking made through worker A reaches the stream clients of worker B through the storage's change feed
 * (PostgreSQL: LISTEN/NOTIFY; JSON files: the journal, read by every process).
 *
 *     WORKERS=3 STORAGE=postgres DATABASE_URL=postgres://… node dist/src/cluster.js
 *
 * Workers start one after another, so the first one migrates the database and seeds demo data alone. A worker
 * that dies is replaced (after a pause that grows if it keeps dying); SIGTERM/SIGINT stop every worker in order.
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 30_000;

function workerCount(): number {
  const raw = process.env.WORKERS;
  if (raw === undefined || raw === '') return availableParallelism();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 64) {
    process.stderr.write(`Agenda Médica não iniciou: WORKERS=${JSON.stringify(raw)}: use um inteiro de 1 a 64\n`);
    process.exit(1);
  }
  return n;
}

function log(msg: string, extra: Record<string, unknown> = {}): void {
  // The workers log with pino; the primary writes the same shape of line, by hand (it loads nothing else).
  process.stdout.write(`${JSON.stringify({ level: 30, time: Date.now(), pid: process.pid, module: 'cluster', ...extra, msg })}\n`);
}

if (cluster.isPrimary) {
  const wanted = workerCount();
  let stopping = false;
  let restartDelay = RESTART_MIN_MS;
  const serverScript = path.join(path.dirname(fileURLToPath(import.meta.url)), `server${path.extname(fileURLToPath(import.meta.url))}`);
  cluster.setupPrimary({ exec: serverScript });

  const fork = (): Promise<Worker> =>
    new Promise((resolve, reject) => {
      const worker = cluster.fork();
      const failed = (code: number | null) => reject(new Error(`o processo ${worker.process.pid} terminou ao iniciar (código ${code})`));
      worker.once('exit', failed);
      worker.once('listening', () => {
        worker.off('exit', failed);
        restartDelay = RESTART_MIN_MS;
        resolve(worker);
      });
    });

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    log('processo do servidor terminou; outro será iniciado', { workerPid: worker.process.pid, code, signal, inMs: restartDelay });
    setTimeout(() => void fork().catch((error: unknown) => log(String(error))), restartDelay);
    restartDelay = Math.min(restartDelay * 2, RESTART_MAX_MS);
  });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log('encerrando os processos do servidor', { signal });
    const workers = Object.values(cluster.workers ?? {});
    if (workers.length === 0) process.exit(0);
    for (const worker of workers) worker?.process.kill('SIGTERM');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  try {
    for (let i = 0; i < wanted; i++) await fork();
    log('processos do servidor prontos', { workers: wanted });
  } catch (error) {
    process.stderr.write(`Agenda Médica não iniciou: ${error instanceof Error ? error.message : String(error)}\n`);
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    process.exitCode = 1;
  }
}
