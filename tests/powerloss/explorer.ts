import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ConsultaRecord, Entity } from '../../src/repositories/port.js';
import { cuts, draw, maskChoice, openItems, randomChoice, stateSeed, type Cut, type DiskState } from './crash-states.js';
import { Oracle } from './oracle.js';
import type { DiskLog } from './recording-fs.js';
import { COLLECTIONS, consulta, openStore, scratchDir } from './workload.js';

/** What opening one crash state gave: its data, or why it could not be used. */
type Opened = { ok: true; records: Map<string, Map<string, Entity>> } | { ok: false; why: string };

export interface Failure {
  cut: number;
  sample: number;
  seed: number;
  why: string;
  state: DiskState;
}

export interface Exploration {
  /** Distinct disk states opened and checked (each opened once, written to, closed). */
  statesChecked: number;
  /** (cut, state) pairs judged against the oracle: a state is judged at every cut that can produce it. */
  judged: number;
  cuts: number;
  commits: number;
  /** Commits the workload was told were durable. */
  acknowledged: number;
  failures: Failure[];
  ms: number;
}

export interface ExploreOptions {
  runSeed: number;
  /** Stop once this many distinct states have been checked. */
  maxStates: number;
  /** Stop at the first failure (the mutation mode only needs one). */
  stopAtFirst?: boolean;
  /** Enumerate every lost/kept combination of a cut with at most this many open items. */
  exhaustiveUpTo?: number;
  /** Only the cuts within this many ops after a dropped sync (mutation mode: where the damage can be). */
  nearDropped?: number;
}

/** Redraws the state a failure printed (`cut`, `sample`, `seed`) from a log of the same run, and checks it alone. */
export async function checkOne(log: DiskLog, cutIndex: number, sample: number, seed: number): Promise<{ ok: true } | { ok: false; why: string }> {
  const oracle = new Oracle(log.ops, COLLECTIONS);
  for (const cut of cuts(log.ops)) {
    if (cut.index !== cutIndex) continue;
    const state = sample < 0 ? draw(cut, maskChoice(-1 - sample)) : draw(cut, randomChoice(seed));
    const scratch = scratchDir('powerloss-replay-');
    try {
      const opened = await openState(scratch, state);
      if (!opened.ok) return opened;
      const verdict = oracle.judge(cut.index, opened.records);
      return verdict.ok ? { ok: true } : verdict;
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  throw new Error(`corte ${cutIndex} não existe nesta execução`);
}

function pendingWrites(cut: Cut): number {
  let n = 0;
  for (const node of cut.inodes.values()) n += node.pending.filter((p) => p.kind === 'write').length;
  return n;
}

function stateKey(state: DiskState): string {
  const hash = createHash('sha256');
  for (const [name, bytes] of state) hash.update(`${name}\0${bytes.length}\0`).update(bytes);
  return hash.digest('hex');
}

let opening = 0;

/**
 * Explores the crash states of a recorded run: for every cut of the log, every combination of its open items
 * when they are few, and seeded samples (with prefixes and block subsets of writes) when they are many. Each
 * distinct state is written to a scratch directory and opened as the server would; it must open, hold a
 * prefix of the commits that includes every acknowledged one, keep one consulta per médico and slot, and take
 * a new write.
 */
export async function explore(log: DiskLog, options: ExploreOptions): Promise<Exploration> {
  const started = performance.now();
  const oracle = new Oracle(log.ops, COLLECTIONS);
  const scratch = scratchDir('powerloss-check-');
  const opened = new Map<string, Opened>();
  const failures: Failure[] = [];
  const exhaustiveUpTo = options.exhaustiveUpTo ?? 6;
  let all = [...cuts(log.ops)];
  if (options.nearDropped !== undefined) {
    const near = new Set<number>();
    log.ops.forEach((op, i) => {
      if (op.kind === 'dropped') for (let k = i + 1; k <= Math.min(log.ops.length, i + options.nearDropped!); k++) near.add(k);
    });
    all = all.filter((cut) => near.has(cut.index));
  }
  // Samples per cut: more where more is undecided (a cut with nothing pending has one state).
  // A pending write can be torn at any byte, or lose any of its blocks: many states, so many samples.
  const weight = new Map(all.map((cut) => [cut.index, Math.min(40, 1 + openItems(cut) + 6 * pendingWrites(cut))]));
  const totalWeight = [...weight.values()].reduce((x, y) => x + y, 0);
  const perWeight = (options.maxStates * 1.6) / totalWeight;
  let judged = 0;

  const judge = async (cut: Cut, sample: number, seed: number, state: DiskState): Promise<void> => {
    const key = stateKey(state);
    let result = opened.get(key);
    if (!result) {
      if (opened.size >= options.maxStates) return;
      result = await openState(scratch, state);
      opened.set(key, result);
    }
    judged++;
    const verdict = result.ok ? oracle.judge(cut.index, result.records) : { ok: false as const, why: result.why };
    if (!verdict.ok) failures.push({ cut: cut.index, sample, seed, why: verdict.why, state });
  };

  // Passes over the cuts, each with new samples, until the budget of distinct states is spent (or a pass
  // finds almost nothing new: the run has no more states to give).
  outer: for (let pass = 0; pass < 8 && opened.size < options.maxStates; pass++) {
    const before = opened.size;
    for (const cut of all) {
      if (pass === 0 && openItems(cut) <= exhaustiveUpTo) {
        for (let mask = 0; mask < 1 << openItems(cut); mask++) {
          await judge(cut, -1 - mask, 0, draw(cut, maskChoice(mask)));
          if (options.stopAtFirst && failures.length > 0) break outer;
        }
      }
      const samples = Math.max(2, Math.ceil(perWeight * weight.get(cut.index)!));
      for (let k = 0; k < samples; k++) {
        const sample = pass * 1000 + k;
        const seed = stateSeed(options.runSeed, cut.index, sample);
        await judge(cut, sample, seed, draw(cut, randomChoice(seed)));
        if (options.stopAtFirst && failures.length > 0) break outer;
      }
    }
    if (opened.size - before < options.maxStates / 100) break;
  }
  rmSync(scratch, { recursive: true, force: true });
  return {
    statesChecked: opened.size,
    judged,
    cuts: all.length,
    commits: oracle.commits.length,
    acknowledged: oracle.range(log.ops.length).min,
    failures,
    ms: performance.now() - started,
  };
}

/** Writes the state into a fresh folder, opens it, checks the rules, writes one booking, closes. */
async function openState(scratch: string, state: DiskState): Promise<Opened> {
  const dir = path.join(scratch, String(opening++));
  mkdirSync(dir);
  for (const [name, bytes] of state) writeFileSync(path.join(dir, name), bytes);
  const store = openStore(dir);
  try {
    try {
      await store.open();
    } catch (error) {
      return { ok: false, why: `não abriu: ${describe(error)}` };
    }
    // What it loaded (from memory: nobody else writes this folder).
    const records = new Map<string, Map<string, Entity>>();
    for (const collection of COLLECTIONS) records.set(collection, new Map([...store.values<Entity>(collection)].map((r) => [r.id, r])));
    const slots = new Set<string>();
    for (const c of records.get('consultas')?.values() ?? []) {
      const record = c as ConsultaRecord;
      if (record.status === 'cancelada') continue;
      const key = `${record.medicoId}|${record.inicio}`;
      if (slots.has(key)) return { ok: false, why: `dois agendamentos em ${key}` };
      slots.add(key);
    }
    try {
      const probe = consulta('tx-sonda', 'm-sonda', 0, 'p1');
      await store.transact((tx) => tx.put('consultas', probe));
      if (!store.get('consultas', probe.id)) return { ok: false, why: 'a escrita depois de abrir não ficou' };
    } catch (error) {
      return { ok: false, why: `abriu mas não aceita escrita: ${describe(error)}` };
    }
    return { ok: true, records };
  } finally {
    await store.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

function describe(error: unknown): string {
  const e = error as { message?: string; cause?: { message?: string } };
  return [e.message, e.cause?.message].filter(Boolean).join(' — ') || String(error);
}

/** Saves a failing state for a look (and for replays): the folder is printed with the failure. */
export function saveFailure(into: string, failure: Failure): string {
  const dir = path.join(into, `corte-${failure.cut}-amostra-${failure.sample}-semente-${failure.seed}`);
  mkdirSync(dir, { recursive: true });
  for (const name of readdirSync(dir)) rmSync(path.join(dir, name), { force: true });
  for (const [name, bytes] of failure.state) writeFileSync(path.join(dir, name), bytes);
  return dir;
}
