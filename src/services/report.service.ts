import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { FileCatalog, type CatalogEntry } from '../infra/file-catalog.js';
import type { Logger } from '../core/logger.js';
import { formatInstant, todayIn } from '../core/time.js';
import { isAnonymised } from './paciente.service.js';
import type { ReportInput, ReportJob, ReportMessage } from './report-worker.js';
import type { TaskContext } from '../infra/task-queue.js';
import { COLLECTIONS } from '../repositories/collections.js';
import type { Entity, RecordSnapshot, StoragePort } from '../repositories/port.js';
import type { Consulta } from '../schemas/consulta.schema.js';
import type { Paciente } from '../schemas/paciente.schema.js';
import { datesBetween } from '../domain/slots.js';
import { type ClosedDate, type ReportParams, periodOf } from './report-data.js';

const NAME = /^relatorio-(\d{8})-(\d{6})(?:-(\d+))?\.pdf$/;

/** Orders report names by time, then by the counter of same-second reports (`-2` before `-10`, numerically). */
function reportSortKey(nome: string): string {
  const match = NAME.exec(nome);
  return match ? `${match[1]}${match[2]}-${(match[3] ?? '1').padStart(6, '0')}` : '';
}

/** Different reports that may wait at once (equal requests join the waiting one, see {@link reportKey}). */
export const REPORTS_MAX_PENDING = 10;

/**
 * Two report requests are the same report when they ask for the same period and médico (the moment they
 * were asked does not matter): the second one gets the first one's pending task. This is their common key.
 */
export function reportKey(params: ReportParams): string {
  return JSON.stringify([params.de, params.ate, params.medicoId ?? null]);
}

export interface ReportRequest {
  de?: string | undefined;
  ate?: string | undefined;
  medicoId?: string | undefined;
}

export type ReportInfo = CatalogEntry;

export interface ReportServiceDeps {
  /**
   * Where the records come from: a consistent export of them, the médico a request names, and the pacientes a new
   * report names, read again once it is written (one anonymised meanwhile removes it).
   */
  storage: Pick<StoragePort, 'exportRecords' | 'medicos' | 'pacientes'>;
  /**
   * Holidays that close the clinic: their dates offer no slots, so they do not count against occupancy. The
   * closing holidays of a range of dates (FeriadoService), read once per report.
   */
  feriados?: { closures(firstDate: string, lastDate: string): Promise<(data: string) => string | undefined> };
  reportsDir: string;
  /** Reports kept: after each new one, all but the newest `keep` are removed (never the one just made). */
  keep?: number;
  clinicName: string;
  clock: Clock;
  timezone: string;
  logger: Logger;
}

/**
 * Starts the report worker: the built `.js` file, or — running from source (tests, `npm run dev`) — the `.ts`
 * file behind a small bootstrap that registers tsx inside the worker first.
 */
function startWorker(job: ReportJob): Worker {
  const ext = path.extname(fileURLToPath(import.meta.url));
  const entry = new URL(`./report-worker${ext}`, import.meta.url);
  if (ext !== '.ts') return new Worker(entry, { workerData: job });
  const tsx = createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs');
  const bootstrap = `import(${JSON.stringify(pathToFileURL(tsx).href)}).then((api) => { api.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: job });
}

/** PDF reports of a period, built in a worker thread so the API keeps answering meanwhile. */
export class ReportService {
  private readonly catalog: FileCatalog;

  constructor(private readonly deps: ReportServiceDeps) {
    this.catalog = new FileCatalog(deps.reportsDir, NAME, 'Relatório', deps.timezone, reportSortKey);
  }

  /** Checks what can be checked before queueing: the period and the médico. */
  async resolve(request: ReportRequest): Promise<ReportParams> {
    const { clock, timezone, clinicName, storage } = this.deps;
    const today = todayIn(timezone, clock.now());
    const de = request.de ?? `${today.slice(0, 8)}01`;
    const ate = request.ate ?? lastDayOfMonth(de);
    if (ate < de) throw rule('ate', 'O fim do período é anterior ao início.');
    if ((Date.parse(ate) - Date.parse(de)) / 86_400_000 > 366) throw rule('ate', 'O período pode ter no máximo 366 dias.');
    if (request.medicoId && !(await storage.medicos.get(request.medicoId))) throw new AppError('REFERENCIA_INVALIDA', 'Médico inexistente.', [{ path: 'medicoId', message: 'Médico inexistente.' }]);
    return { de, ate, medicoId: request.medicoId, clinicName, timezone, geradoEm: formatInstant(clock.now(), timezone) };
  }

  async generate(params: ReportParams, context?: TaskContext): Promise<{ nome: string; paginas: number; consultas: number }> {
    const { storage, reportsDir, logger } = this.deps;
    await fsp.mkdir(reportsDir, { recursive: true });
    const nome = await this.freeName(params.geradoEm);
    const job: ReportJob = { params, fechados: await this.closedDates(params), outFile: path.join(reportsDir, nome) };
    const worker = startWorker(job);
    const result = new Promise<{ paginas: number; consultas: number }>((resolve, reject) => {
      worker.on('message', (message: ReportMessage) => {
        if ('progress' in message) context?.progress(message.progress);
        else if ('done' in message) resolve(message.done);
        else reject(new Error(message.error));
      });
      worker.on('error', reject);
      worker.on('exit', (code) => (code === 0 ? undefined : reject(new Error(`o worker de relatório saiu com ${code}`))));
    });
    // When sending fails (the export), `result` is never awaited: its rejection (the worker ends) must not go unhandled.
    result.catch(() => undefined);
    try {
      const snapshot = await storage.exportRecords();
      let pacientes: ReadonlySet<string>;
      try {
        pacientes = await sendRecords(snapshot, params, (batch) => worker.postMessage(batch));
      } finally {
        await snapshot.close();
      }
      // The list goes in place before the PDF can (the worker renames it into place only after `end`): a report is
      // never listed without the pacientes it names, so an anonymisation meanwhile neither misses nor wrongly takes it.
      await writeAtomically(indexOf(job.outFile), JSON.stringify([...pacientes]));
      worker.postMessage({ end: true } satisfies ReportInput);
      const done = await result;
      // Read before an anonymisation that committed while it was being written: such a report must not stay.
      await this.dropIfAnonymised(nome, pacientes);
      logger.info({ relatorio: nome, ...done }, 'relatório gerado');
      await this.prune(nome);
      return { nome, ...done };
    } catch (error) {
      await fsp.rm(indexOf(job.outFile), { force: true });
      throw error;
    } finally {
      await worker.terminate();
    }
  }

  /** The dates of the period that a holiday closes (the clinic's own read once, then at most 367 look-ups in memory). */
  private async closedDates(params: ReportParams): Promise<ClosedDate[]> {
    const { feriados } = this.deps;
    if (!feriados) return [];
    const closing = await feriados.closures(params.de, params.ate);
    return datesBetween(params.de, params.ate).flatMap((data) => {
      const nome = closing(data);
      return nome !== undefined ? [{ data, nome }] : [];
    });
  }

  /** Keeps the newest `keep` reports, never the one just made; a failure is logged, never thrown. */
  private async prune(justMade: string): Promise<void> {
    const { keep, logger } = this.deps;
    if (keep === undefined) return;
    const { removed, failed } = await this.catalog.prune(keep, [justMade]).catch((error: unknown) => ({
      removed: [] as string[], failed: [{ nome: '*', error }],
    }));
    for (const nome of removed) {
      // The catalog removed the PDF; `remove` takes its list too (a PDF already gone is no error).
      await this.remove(nome).catch(() => undefined);
      logger.info({ relatorio: nome }, 'relatório antigo removido');
    }
    for (const { nome, error } of failed) logger.warn({ relatorio: nome, err: error }, 'relatório antigo não removido');
  }

  list(): Promise<ReportInfo[]> {
    return this.catalog.list();
  }

  /**
   * LGPD: removes every stored report that names the paciente (an anonymised paciente must not stay readable in a
   * PDF the API still serves). Each report has beside it the ids of the pacientes it names
   * (`relatorio-….pdf.pacientes.json`); a report without that list (made by an older version, or by a process that
   * died before writing it) may name anyone, and goes too. Returns the names removed; a report that cannot be
   * removed fails the call, so the caller can say so.
   */
  async forgetPaciente(pacienteId: string): Promise<string[]> {
    const { reportsDir, logger } = this.deps;
    const removed: string[] = [];
    const failed: unknown[] = [];
    for (const nome of await this.catalog.names()) {
      const file = path.join(reportsDir, nome);
      const names = await namesOf(file);
      if (names && !names.has(pacienteId)) continue;
      try {
        await this.remove(nome);
        removed.push(nome);
      } catch (error) {
        failed.push(error);
      }
    }
    if (removed.length > 0) logger.info({ pacienteId, relatorios: removed }, 'relatórios que citavam o paciente removidos');
    if (failed.length > 0) throw new AggregateError(failed, failed.length === 1 ? '1 relatório que cita o paciente não pôde ser removido' : `${failed.length} relatórios que citam o paciente não puderam ser removidos`);
    return removed;
  }

  /**
   * Removes the stored reports that name a paciente anonymised by now (each read again, once per sweep): the
   * anonymisations this process did not answer itself, another process's (a reset of the change feed, which may
   * have skipped it) or any made while this process was down (at start). Reports without a list are left to
   * `forgetPaciente`. Returns the names removed.
   */
  async sweepAnonymised(): Promise<string[]> {
    const { reportsDir, storage } = this.deps;
    const anonymised = new Map<string, boolean>();
    const removed: string[] = [];
    for (const nome of await this.catalog.names()) {
      for (const id of (await namesOf(path.join(reportsDir, nome))) ?? []) {
        let gone = anonymised.get(id);
        if (gone === undefined) {
          const paciente = await storage.pacientes.get(id);
          anonymised.set(id, (gone = paciente !== undefined && isAnonymised(paciente)));
        }
        if (!gone) continue;
        await this.remove(nome);
        removed.push(nome);
        break;
      }
    }
    if (removed.length > 0) this.deps.logger.info({ relatorios: removed }, 'relatórios que citavam pacientes anonimizados removidos');
    return removed;
  }

  /**
   * A report just made stays only if none of the pacientes it names was anonymised meanwhile (by any process: the
   * records are read again). Otherwise it is removed, and the task fails saying why.
   */
  private async dropIfAnonymised(nome: string, pacientes: ReadonlySet<string>): Promise<void> {
    for (const id of pacientes) {
      const paciente = await this.deps.storage.pacientes.get(id);
      if (!paciente || !isAnonymised(paciente)) continue;
      await this.remove(nome);
      throw new AppError('PACIENTE_ANONIMIZADO', 'Um paciente do relatório foi anonimizado enquanto ele era gerado; gere o relatório de novo.');
    }
  }

  /** Removes a report and the list beside it (the PDF first: a list without its PDF is never served). */
  private async remove(nome: string): Promise<void> {
    const file = path.join(this.deps.reportsDir, nome);
    await fsp.rm(file, { force: true });
    await fsp.rm(indexOf(file), { force: true });
  }

  pathOf(nome: string): Promise<string> {
    return this.catalog.pathOf(nome);
  }

  private async freeName(geradoEm: string): Promise<string> {
    const stamp = `${geradoEm.slice(0, 10).replaceAll('-', '')}-${geradoEm.slice(11, 19).replaceAll(':', '')}`;
    // Past the highest counter of that second, not the first free one: a name freed by pruning must not be
    // reused, or the new report would sort as the oldest and be the next one pruned.
    const taken = (await this.catalog.names()).filter((n) => n.startsWith(`relatorio-${stamp}`)).map((n) => Number(NAME.exec(n)?.[3] ?? 1));
    for (let n = Math.max(0, ...taken) + 1; ; n++) {
      const nome = `relatorio-${stamp}${n === 1 ? '' : `-${n}`}.pdf`;
      if (!(await this.catalog.exists(nome))) return nome;
    }
  }
}

/** Records sent to the worker per message: each is cloned on this thread, so small batches keep it responsive. */
const BATCH = 1000;

/**
 * Sends the worker the records of one consistent snapshot that the report needs, a batch per message: every
 * médico and bloqueio (a clinic has tens of médicos), the consultas of the period (and médico, if one is asked),
 * then only the pacientes those consultas name — not the whole clinic's history. Returns the ids of those the report
 * names by name (not the anonymised).
 */
async function sendRecords(snapshot: RecordSnapshot, params: ReportParams, send: (batch: ReportInput) => void): Promise<ReadonlySet<string>> {
  const { fromMs, toMs } = periodOf(params);
  const pacientes = new Set<string>();
  const stream = async (collection: string, keep: (record: Entity) => boolean) => {
    let records: Entity[] = [];
    for await (const record of snapshot.records(collection)) {
      if (!keep(record)) continue;
      records.push(record);
      if (records.length === BATCH) {
        send({ collection, records });
        records = [];
      }
    }
    if (records.length > 0) send({ collection, records });
  };
  await stream(COLLECTIONS.medicos, () => true);
  await stream(COLLECTIONS.bloqueios, () => true);
  await stream(COLLECTIONS.consultas, (record) => {
    const c = record as Consulta;
    if (params.medicoId && c.medicoId !== params.medicoId) return false;
    const at = Date.parse(c.inicio);
    if (at < fromMs || at >= toMs) return false;
    pacientes.add(c.pacienteId);
    return true;
  });
  // Those the report names: an anonymised paciente's record (as a deleted one's absence) names nobody, so a report
  // of a period with one is neither refused nor removed for it.
  const named = new Set<string>();
  await stream(COLLECTIONS.pacientes, (record) => {
    if (!pacientes.has(record.id)) return false;
    if (!isAnonymised(record as Paciente)) named.add(record.id);
    return true;
  });
  return named;
}

/** The file beside a report that lists the ids of the pacientes it names (see `forgetPaciente`). */
const indexOf = (reportFile: string): string => `${reportFile}.pacientes.json`;

/** The ids of the pacientes a report names; undefined when its list is missing, unreadable or not a list of ids (anyone). */
async function namesOf(reportFile: string): Promise<ReadonlySet<string> | undefined> {
  try {
    const list: unknown = JSON.parse(await fsp.readFile(indexOf(reportFile), 'utf8'));
    return Array.isArray(list) && list.every((id) => typeof id === 'string') ? new Set(list) : undefined;
  } catch {
    return undefined;
  }
}

/** Writes `file` whole or not at all (a temporary file renamed over it). */
async function writeAtomically(file: string, text: string): Promise<void> {
  const temp = `${file}.tmp-${process.pid}`;
  await fsp.writeFile(temp, text);
  await fsp.rename(temp, file);
}

const rule = (p: string, message: string) => new AppError('VALIDACAO', message, [{ path: p, message }]);

function lastDayOfMonth(date: string): string {
  const d = new Date(`${date.slice(0, 7)}-01T00:00:00Z`);
  d.setUTCMonth(d.getUTCMonth() + 1, 0);
  return d.toISOString().slice(0, 10);
}
