/**
 * Storage micro-benchmark: durable single-insert throughput with 1k and with 100k existing records.
 *
 *   npm run bench:storage            (about 30 s)
 *   npm run bench:storage -- --quick
 *
 * Every insert is acknowledged only after its journal line is fdatasync'ed, exactly as in the server.
 * Two figures per size: one insert at a time (the latency-bound case) and 50 in flight (group commit).
 * The checkpoint that folds the journal into the data files is timed separately and spread over the
 * inserts that trigger it, so its amortised share per insert is printed too.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { FileStore } from '../src/infra/storage/json/file-store.js';

const quick = process.argv.includes('--quick');
const SECONDS = quick ? 1 : 3;
const ROUNDS = quick ? 1 : 3;
const logger = pino({ level: 'silent' });

function consulta(i: number) {
  return {
    id: randomUUID(),
    medicoId: randomUUID(),
    pacienteId: randomUUID(),
    inicio: `2027-01-${String((i % 28) + 1).padStart(2, '0')}T09:00:00-03:00`,
    fim: `2027-01-${String((i % 28) + 1).padStart(2, '0')}T09:30:00-03:00`,
    status: 'agendada',
    observacoes: 'retorno',
    motivoCancelamento: null,
    criadaEm: '2026-11-29T10:00:00-03:00',
    atualizadaEm: '2026-11-29T10:00:00-03:00',
  };
}

async function prepared(existing: number): Promise<{ store: FileStore; dir: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'agenda-bench-'));
  const store = new FileStore({ dir, collections: ['consultas'], logger });
  await store.open();
  await store.transact((tx) => {
    for (let i = 0; i < existing; i++) tx.put('consultas', consulta(i));
  });
  await store.checkpoint();
  return { store, dir };
}

/** Inserts for `SECONDS` with `inFlight` concurrent writers; returns inserts per second. */
async function insertRate(store: FileStore, inFlight: number): Promise<number> {
  const deadline = performance.now() + SECONDS * 1000;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < deadline) {
        const record = consulta(done);
        await store.transact((tx) => tx.put('consultas', record));
        done++;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Figures {
  single: number;
  grouped: number;
  checkpointMs: number;
}

async function measureOnce(existing: number): Promise<Figures> {
  const { store, dir } = await prepared(existing);
  // The checkpoint is timed on the prepared size, before the inserts grow the collection.
  await store.transact((tx) => tx.put('consultas', consulta(0)));
  const t = performance.now();
  await store.checkpoint();
  const checkpointMs = performance.now() - t;
  const single = await insertRate(store, 1);
  const grouped = await insertRate(store, 50);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return { single, grouped, checkpointMs };
}

// Rounds alternate the two sizes so machine noise hits both alike; each figure is a median.
const runs: Record<'small' | 'large', Figures[]> = { small: [], large: [] };
for (let round = 0; round < ROUNDS; round++) {
  runs.small.push(await measureOnce(1_000));
  runs.large.push(await measureOnce(100_000));
}
const summarise = (xs: Figures[]): Figures => ({
  single: median(xs.map((x) => x.single)),
  grouped: median(xs.map((x) => x.grouped)),
  checkpointMs: median(xs.map((x) => x.checkpointMs)),
});
const small = summarise(runs.small);
const large = summarise(runs.large);
// A checkpoint runs once the journal outgrows both 8 MiB and the data files: the inserts between two
// checkpoints grow with the collection, which keeps the share of each insert constant.
const LINE_BYTES = JSON.stringify(consulta(0)).length + 60;
const amortised = (r: Figures, existing: number) =>
  (r.checkpointMs / Math.max(existing, (8 * 1024 * 1024) / LINE_BYTES)) * 1000;

const row = (name: string, a: number, b: number, unit: string) =>
  `| ${name.padEnd(44)} | ${a.toFixed(1).padStart(10)} | ${b.toFixed(1).padStart(10)} | ${(b / a).toFixed(2).padStart(6)} | ${unit}`;
process.stdout.write(
  [
    `storage benchmark (${quick ? 'quick' : 'full'}; ${SECONDS}s per figure, median of ${ROUNDS}); every insert fdatasync'ed`,
    `| ${'figure'.padEnd(44)} | ${'1k'.padStart(10)} | ${'100k'.padStart(10)} | ${'ratio'.padStart(6)} |`,
    row('single inserts/s, one at a time', small.single, large.single, '100k / 1k'),
    row('inserts/s, 50 in flight (group commit)', small.grouped, large.grouped, '100k / 1k'),
    row('checkpoint of N records, ms', small.checkpointMs, large.checkpointMs, ''),
    row('checkpoint share per insert, µs (÷ N)', amortised(small, 1_000), amortised(large, 100_000), ''),
    '',
  ].join('\n'),
);
