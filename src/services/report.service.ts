import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Clock } from '../core/clock.js';
import { AppError, notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { formatInstant, todayIn } from '../core/time.js';
import type { ReportJob, ReportMessage } from '../infra/report-worker.js';
import type { Store } from '../infra/storage/store.js';
import type { TaskContext } from '../infra/task-queue.js';
import type { MedicoRepository } from '../repositories/medico.repository.js';
import type { ReportParams } from './report-data.js';

const NAME = /^relatorio-\d{8}-\d{6}(-\d+)?\.pdf$/;

export interface ReportRequest {
  de?: string | undefined;
  ate?: string | undefined;
  medicoId?: string | undefined;
}

export interface ReportInfo {
  nome: string;
  tamanhoBytes: number;
  criadoEm: string;
}

export interface ReportServiceDeps {
  store: Store;
  medicos: MedicoRepository;
  reportsDir: string;
  clinicName: string;
  clock: Clock;
  timezone: string;
  logger: Logger;
}

/**
 * Starts the report worker: the built `.js` file, or — running from source (tests, `npm run dev`) — the `.ts`
 * file behind a small bootstrap that registers tsx inside the worker first.
 */
function startWorker(job: ReportJob, transferList: ArrayBuffer[]): Worker {
  const ext = path.extname(fileURLToPath(import.meta.url));
  const entry = new URL(`../infra/report-worker${ext}`, import.meta.url);
  if (ext !== '.ts') return new Worker(entry, { workerData: job, transferList });
  const tsx = createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs');
  const bootstrap = `import(${JSON.stringify(pathToFileURL(tsx).href)}).then((api) => { api.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: job, transferList });
}

/** PDF reports of a period, built in a worker thread so the API keeps answering meanwhile. */
export class ReportService {
  constructor(private readonly deps: ReportServiceDeps) {}

  /** Checks what can be checked before queueing: the period and the médico. */
  resolve(request: ReportRequest): ReportParams {
    const { clock, timezone, clinicName, medicos } = this.deps;
    const today = todayIn(timezone, clock.now());
    const de = request.de ?? `${today.slice(0, 8)}01`;
    const ate = request.ate ?? lastDayOfMonth(de);
    if (ate < de) throw rule('ate', 'O fim do período é anterior ao início.');
    if ((Date.parse(ate) - Date.parse(de)) / 86_400_000 > 366) throw rule('ate', 'O período pode ter no máximo 366 dias.');
    if (request.medicoId && !medicos.get(request.medicoId)) throw new AppError('REFERENCIA_INVALIDA', 'Médico inexistente.', [{ path: 'medicoId', message: 'Médico inexistente.' }]);
    return { de, ate, medicoId: request.medicoId, clinicName, timezone, geradoEm: formatInstant(clock.now(), timezone) };
  }

  async generate(params: ReportParams, context?: TaskContext): Promise<{ nome: string; paginas: number; consultas: number }> {
    const { store, reportsDir, logger } = this.deps;
    await fsp.mkdir(reportsDir, { recursive: true });
    const nome = await this.freeName(params.geradoEm);
    const snapshot = await store.snapshot();
    const files = snapshot.files.map((f) => ({ name: f.name, bytes: new Uint8Array(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength) }));
    const job: ReportJob = { files, collections: [...store.collections], params, outFile: path.join(reportsDir, nome) };
    // Transfer the snapshot's memory instead of copying it (only buffers that own their memory can move).
    const transfer = files
      .filter((f) => f.bytes.byteOffset === 0 && f.bytes.buffer.byteLength === f.bytes.byteLength)
      .map((f) => f.bytes.buffer as ArrayBuffer);
    const worker = startWorker(job, transfer);
    const result = await new Promise<{ paginas: number; consultas: number }>((resolve, reject) => {
      worker.on('message', (message: ReportMessage) => {
        if ('progress' in message) context?.progress(message.progress);
        else if ('done' in message) resolve(message.done);
        else reject(new Error(message.error));
      });
      worker.on('error', reject);
      worker.on('exit', (code) => (code === 0 ? undefined : reject(new Error(`o worker de relatório saiu com ${code}`))));
    });
    await worker.terminate();
    logger.info({ relatorio: nome, ...result }, 'relatório gerado');
    return { nome, ...result };
  }

  async list(): Promise<ReportInfo[]> {
    const { reportsDir, timezone } = this.deps;
    const names = (await fsp.readdir(reportsDir).catch(() => [] as string[])).filter((n) => NAME.test(n)).sort().reverse();
    const out: ReportInfo[] = [];
    for (const nome of names) {
      const stat = await fsp.stat(path.join(reportsDir, nome)).catch(() => undefined);
      if (stat) out.push({ nome, tamanhoBytes: stat.size, criadoEm: formatInstant(stat.mtime, timezone) });
    }
    return out;
  }

  async pathOf(nome: string): Promise<string> {
    if (!NAME.test(nome)) throw notFound('Relatório');
    const file = path.join(this.deps.reportsDir, nome);
    try {
      await fsp.access(file);
    } catch {
      throw notFound('Relatório');
    }
    return file;
  }

  private async freeName(geradoEm: string): Promise<string> {
    const stamp = `${geradoEm.slice(0, 10).replaceAll('-', '')}-${geradoEm.slice(11, 19).replaceAll(':', '')}`;
    for (let n = 1; ; n++) {
      const nome = `relatorio-${stamp}${n === 1 ? '' : `-${n}`}.pdf`;
      const taken = await fsp.access(path.join(this.deps.reportsDir, nome)).then(() => true, () => false);
      if (!taken) return nome;
    }
  }
}

const rule = (p: string, message: string) => new AppError('VALIDACAO', message, [{ path: p, message }]);

function lastDayOfMonth(date: string): string {
  const d = new Date(`${date.slice(0, 7)}-01T00:00:00Z`);
  d.setUTCMonth(d.getUTCMonth() + 1, 0);
  return d.toISOString().slice(0, 10);
}
