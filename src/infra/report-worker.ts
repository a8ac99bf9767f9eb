/**
 * The report worker thread. PDF layout is CPU-bound (a 100k-appointment report takes seconds), so it runs
 * here, off the event loop that serves the API. It receives a storage snapshot (its buffers transferred,
 * not copied), builds the report, writes it to a temp file and renames it into place.
 */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { constants, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { loadReportFonts } from './report-fonts.js';
import { materialize } from './storage/json/data-files.js';
import { buildReportData, type ClosedDate, type ReportParams } from '../services/report-data.js';
import { writeReportPdf } from '../services/report-pdf.js';

export interface ReportJob {
  files: { name: string; bytes: Uint8Array }[];
  collections: string[];
  params: ReportParams;
  /** Dates of the period on which the clinic is closed (holidays are computed on the main thread). */
  fechados: ClosedDate[];
  outFile: string;
}

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

try {
  const files = new Map(job.files.map((f) => [f.name, Buffer.from(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength)]));
  const data = buildReportData(materialize(files, job.collections), job.params, job.fechados);
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
} catch (error) {
  post({ error: error instanceof Error ? error.message : String(error) });
}
