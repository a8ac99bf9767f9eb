import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { FileStore, JOURNAL_FILE, type StorageFs } from '../../src/infra/storage/json/file-store.js';
import { decodeJournal, encodeBatch, type JournalOp } from '../../src/infra/storage/json/journal.js';
import { REFERENCE_FIELDS } from '../../src/repositories/collections.js';
import type { ConsultaRecord, Entity } from '../../src/repositories/port.js';
import { silentLogger } from '../helpers/logger.js';
import { rng } from './crash-states.js';
import { DiskLog, type RecordingOptions } from './recording-fs.js';

/** Where the runs and the crash states live: tmpfs when there is one (its fsync costs nothing). */
export const SCRATCH = existsSync('/dev/shm') ? '/dev/shm' : undefined;
export const scratchDir = (prefix: string): string => mkdtempSync(path.join(SCRATCH ?? (process.env['TMPDIR'] ?? '/tmp'), prefix));

/**
 * The collections of the runs: the JSON driver's store is the same for any number of them, and each more is one
 * more file to write per checkpoint and per checked state. Transactions touch both.
 */
export const COLLECTIONS = ['pacientes', 'consultas'] as const;

/** The JSON driver's store of a data directory, as the server opens it, on the given file-system seam. */
export function openStore(dir: string, fs?: StorageFs): FileStore {
  return new FileStore({
    dir,
    collections: COLLECTIONS,
    logger: silentLogger,
    sharedFields: REFERENCE_FIELDS,
    watchMs: 0,
    staleMs: 2_000,
    lockWaitMs: 10_000,
    // Small, so the bookings themselves trigger checkpoints (as a busy day does with the default 8 MB).
    checkpointMinBytes: 6 * 1024,
    ...(fs ? { fs } : {}),
  });
}

/** The slot-holding consulta of the médico at `inicio`, if any (what the booking rules check). */
export function holder(store: FileStore, medicoId: string, inicio: string): ConsultaRecord | undefined {
  for (const c of store.values<ConsultaRecord>('consultas')) {
    if (c.medicoId === medicoId && c.inicio === inicio && c.status !== 'cancelada') return c;
  }
  return undefined;
}

const DAY = Date.parse('2026-12-07T11:00:00Z');
const SLOT_MS = 30 * 60_000;
const MEDICOS = ['m1', 'm2', 'm3'];

/** A consulta record as the services write it, tagged with the transaction's label. */
export function consulta(label: string, medicoId: string, slot: number, pacienteId: string): ConsultaRecord {
  const inicio = new Date(DAY + slot * SLOT_MS).toISOString();
  const fim = new Date(DAY + slot * SLOT_MS + SLOT_MS).toISOString();
  return {
    id: `c-${label}`,
    medicoId,
    pacienteId,
    inicio,
    fim,
    status: 'agendada',
    observacoes: label,
    motivoCancelamento: null,
    chegouEm: null,
    encaixe: false,
    criadaEm: inicio,
    atualizadaEm: inicio,
  };
}

/**
 * The recorded run: real writes of the JSON driver through the recording seam, by two stores ("processes")
 * on one directory — bookings in concurrent bursts (group commit) with races for one slot, cancels,
 * checkpoints (explicit and automatic), a backup's export, a restore, and writes after each of them.
 * Every transaction carries a `tx-N` label; the workload logs its acknowledgement the moment `run` resolves.
 */
export async function recordRun(seed: number, options: RecordingOptions = {}): Promise<DiskLog> {
  const dir = scratchDir('powerloss-run-');
  const log = new DiskLog(dir, options);
  const random = rng(seed);
  let n = 0;
  const a = openStore(dir, log.fs());
  await a.open();
  const booked: ConsultaRecord[] = [];

  /** A booking: the rule checked and the consulta written in one transaction; a new paciente with it, at times. */
  const book = async (store: FileStore, medicoId: string, slot: number): Promise<void> => {
    const label = `tx-${++n}`;
    const newPaciente = random() < 0.3;
    const record = consulta(label, medicoId, slot, newPaciente ? `p-${label}` : `p${1 + Math.floor(random() * 5)}`);
    const ok = await store.transact((tx) => {
      if (holder(store, medicoId, record.inicio)) return false;
      if (newPaciente) tx.put('pacientes', { id: record.pacienteId, nome: label } as Entity);
      tx.put('consultas', record);
      return true;
    });
    if (!ok) return; // the slot was taken: nothing written, nothing to acknowledge
    log.ack(label);
    booked.push(record);
  };
  const cancel = async (store: FileStore): Promise<void> => {
    const target = booked.splice(Math.floor(random() * booked.length), 1)[0];
    if (!target) return;
    const label = `tx-${++n}`;
    await store.transact((tx) => {
      const current = store.get<ConsultaRecord>('consultas', target.id);
      const cancelled: ConsultaRecord = { ...(current ?? target), status: 'cancelada', motivoCancelamento: label };
      tx.put('consultas', cancelled);
    });
    log.ack(label);
  };
  /** A burst of concurrent requests: they meet in group commits; some race for one slot. */
  const burst = async (store: FileStore, size: number): Promise<void> => {
    await Promise.all(
      Array.from({ length: size }, () =>
        random() < 0.2 ? cancel(store) : book(store, MEDICOS[Math.floor(random() * MEDICOS.length)]!, Math.floor(random() * 12)),
      ),
    );
  };

  // Round 1: one process; bursts, an explicit checkpoint (automatic ones follow as the journal grows).
  /** Restores `from` minus its first consulta and first paciente (so it differs from every other state). */
  const restore = async (store: FileStore, from: ReadonlyMap<string, readonly Entity[]>, k: number): Promise<void> => {
    const restored = new Map([...from].map(([collection, records]) => [collection, records.slice(1)]));
    const label = `tx-${++n}`;
    restored.set('pacientes', [...(restored.get('pacientes') ?? []), { id: `p-restauracao-${k}`, nome: label } as Entity]);
    log.restoring(label, restored);
    await store.replaceAll(async () => restored);
    log.ack(label);
    booked.length = 0;
    for (const c of (restored.get('consultas') ?? []) as ConsultaRecord[]) if (c.status === 'agendada') booked.push(c);
  };

  await burst(a, 6);
  await burst(a, 10);
  await a.checkpoint();
  await burst(a, 8);
  // A second process opens the directory and writes beside the first.
  const b = openStore(dir, log.fs());
  await b.open();
  for (let round = 0; round < 6; round++) {
    await Promise.all([burst(a, 8), burst(b, 8)]);
    await Promise.all([burst(a, 6), burst(b, 6)]);
    await (round % 2 === 0 ? a : b).checkpoint();
    await Promise.all([burst(a, 5), burst(b, 3)]);
    // A third process dies half way through appending its batch (a kill -9 mid-write): the next writer must cut
    // that torn tail off before appending its own.
    if (round === 1 || round === 4) await diesMidWrite(dir, log, `morto-${round}`, round === 1 ? 2 : 1);
    if (round === 1) {
      // The dead process is restarted: it opens the directory (its unsynced whole lines are there) and writes.
      const restarted = openStore(dir, log.fs());
      await restarted.open();
      await burst(restarted, 5);
      await restarted.close();
    }
  }
  // A backup reads a consistent copy (it writes nothing to the data directory).
  const exported = await a.records();
  await burst(b, 6);
  // A restore of that backup, changed in every collection so that any mix of old and new files shows.
  await restore(b, exported, 1);
  await Promise.all([burst(a, 6), burst(b, 6)]);
  // A second restore: a leftover intent of the first must not roll the second's files in before its own intent.
  await restore(a, await b.records(), 2);
  await Promise.all([burst(a, 6), burst(b, 6)]);
  await Promise.all([burst(a, 6), burst(b, 6)]);
  await b.close();
  await burst(a, 4);
  await a.close();
  return log;
}

/**
 * A writer that dies (kill -9) part way through appending a batch of three lines: the first `whole` lines and half of
 * the next reach the page cache, unsynced. The next writer takes them as commits (they are whole lines), cuts the
 * rest, and numbers its own batch after a batch that never ended — the case a crash after that crash must survive.
 */
async function diesMidWrite(dir: string, log: DiskLog, label: string, whole: number): Promise<void> {
  const file = path.join(dir, JOURNAL_FILE);
  const handle = await log.fs().open(file, 'a');
  try {
    const offset = (await handle.stat()).size;
    // Tagged as the live writers tag theirs: with the newest generation of the data files and the journal.
    const g = generationOf(dir);
    const entries = [0, 1, 2].map((k) => ({ g, t: 0, ops: [['put', 'consultas', consulta(`${label}-${k}`, `m-${label}`, k, 'p1')]] as JournalOp[] }));
    const bytes = Buffer.from(encodeBatch(entries, offset));
    let end = 0;
    for (let k = 0; k < whole; k++) end = bytes.indexOf(0x0a, end) + 1;
    const next = bytes.indexOf(0x0a, end) + 1;
    await handle.write(bytes.subarray(0, end + Math.floor((next - end) / 2)));
  } finally {
    await handle.close();
  }
}

/** The newest generation in the directory: data files' headers and journal lines (what a writer tags lines with). */
function generationOf(dir: string): number {
  let g = 0;
  for (const collection of COLLECTIONS) {
    const header = /"generation":(\d+)/.exec(readFileSync(path.join(dir, `${collection}.json`), 'utf8').slice(0, 200));
    g = Math.max(g, Number(header?.[1] ?? 0));
  }
  for (const entry of decodeJournal(readFileSync(path.join(dir, JOURNAL_FILE))).entries) g = Math.max(g, entry.g);
  return g;
}
