/**
 * The report worker thread. PDF layout is CPU-bound (a 100k-appointment report takes seconds), so it runs
 * here, off the event loop that serves the API. It receives the records the report needs, in batches (from the
 * storage port's export, whatever the driver: see `ReportService.generate`), then builds the report, writes it
 * to a temp file and renames it into place.
 */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { constants, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { loadReportFonts } from '../infra/report-fonts.js';
import type { Entity } from '../repositories/port.js';
import { buildReportData, type ClosedDate, type ReportParams } from './report-data.js';
import { writeReportPdf } from './report-pdf.js';

export interface ReportJob {
  params: ReportParams;
  /** Dates of the period on which the clinic is closed (holidays are computed on the main thread). */
  fechados: ClosedDate[];
  outFile: string;
}

/** What the service sends after starting the worker: batches of records of a collection, then the end. */
export type ReportInput = { collection: string; records: Entity[] } | { end: true };

export type ReportMessage = { progress: number } | { done: { paginas: number; consultas: number } } | { error: string };

// CPU-bound work yields the CPU to the threads that answer requests: the scheduler runs this thread only when
// they leave a core free. On Linux the nice value belongs to each thread, so this lowers this worker alone.
try {
  setPriority(constants.priority.PRIORITY_LOW);
} catch {
  // Not allowed here: the report runs at normal priority.
}

const job = workerData as ReportJob;
const post = (message: ReportMessage) => parentPort!.postMessage(message);

const collections = new Map<string, Map<string, Entity>>(['medicos', 'pacientes', 'consultas', 'bloqueios'].map((c) => [c, new Map()]));

async function build(): Promise<void> {
  const data = buildReportData(collections, job.params, job.fechados);
  collections.clear();
  // Embedded Unicode fonts, registered on the report's documents (see writeReportPdf).
  const fonts = loadReportFonts();
  post({ progress: 10 });
  const temp = `${job.outFile}.tmp-${process.pid}-w`;
  try {
    const paginas = await writeReportPdf(data, fonts, createWriteStream(temp), (progress) => post({ progress }));
    await rename(temp, job.outFile);
    post({ done: { paginas, consultas: data.total } });
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

const fail = (error: unknown) => post({ error: error instanceof Error ? error.message : String(error) });

parentPort!.on('message', (message: ReportInput) => {
  if ('end' in message) {
    parentPort!.removeAllListeners('message'); // lets the thread end once the report is written
    build().catch(fail);
    return;
  }
  const map = collections.get(message.collection);
  for (const record of message.records) map?.set(record.id, record);
});
