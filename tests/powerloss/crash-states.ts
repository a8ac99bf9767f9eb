import type { FsOp } from './recording-fs.js';

/**
 * What a power cut may leave on disk after any prefix of a recorded run (see `recording-fs.ts`).
 *
 * The model, per the usual POSIX reading and the ALICE study's (OSDI 2014) abstract persistence model:
 * - a file's contents as of its last fsync/fdatasync are durable;
 * - each write after it may be lost, kept whole, kept as a prefix, or kept as a subset of its 4 KiB blocks,
 *   independently of the others (so they may also land out of order); a lost range inside the file reads as
 *   zeros; a truncate after the last sync may be lost;
 * - the directory's names as of its last fsync are durable; each create, rename or unlink after it may be
 *   undone, independently of the others (a rename moves one file atomically, or not at all).
 */

/** A file as a power cut leaves it: its bytes (name → contents). */
export type DiskState = Map<string, Buffer>;

interface Inode {
  durable: Buffer;
  current: Buffer;
  /** Writes and truncates since the last sync, in order. */
  pending: ({ kind: 'write'; offset: number; data: Buffer } | { kind: 'truncate'; size: number })[];
}

type DirOp = { kind: 'link'; path: string; ino: number } | { kind: 'unlink'; path: string } | { kind: 'rename'; from: string; to: string; ino: number };

/** The disk as the log has it at one cut: enough to draw any crash state of that moment. */
export interface Cut {
  /** Ops of the log before the cut. */
  index: number;
  dirDurable: ReadonlyMap<string, number>;
  dirPending: readonly DirOp[];
  inodes: ReadonlyMap<number, { durable: Buffer; pending: Inode['pending'] }>;
}

/** Choices for the undecided items of a cut, one number each (see {@link draw}). */
export type Choice = (items: number) => number;

/** Walks the log, yielding the state of knowledge after every op (cut `index` = ops [0, index) happened). */
export function* cuts(ops: readonly FsOp[]): Generator<Cut> {
  const inodes = new Map<number, Inode>();
  let dirDurable = new Map<string, number>();
  const dirCurrent = new Map<string, number>();
  let dirPending: DirOp[] = [];
  const snapshot = (index: number): Cut => ({
    index,
    dirDurable: new Map(dirDurable),
    dirPending: [...dirPending],
    inodes: new Map([...inodes].map(([ino, node]) => [ino, { durable: node.durable, pending: [...node.pending] }])),
  });
  yield snapshot(0);
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    switch (op.kind) {
      case 'create':
        inodes.set(op.ino, { durable: Buffer.alloc(0), current: Buffer.alloc(0), pending: [] });
        dirCurrent.set(op.path, op.ino);
        dirPending.push({ kind: 'link', path: op.path, ino: op.ino });
        break;
      case 'write': {
        const node = inodes.get(op.ino)!;
        node.current = applyWrite(node.current, op.offset, op.data);
        node.pending.push({ kind: 'write', offset: op.offset, data: op.data });
        break;
      }
      case 'truncate': {
        const node = inodes.get(op.ino)!;
        node.current = resize(node.current, op.size);
        node.pending.push({ kind: 'truncate', size: op.size });
        break;
      }
      case 'fsync': {
        const node = inodes.get(op.ino)!;
        node.durable = node.current;
        node.pending = [];
        break;
      }
      case 'rename':
        dirCurrent.delete(op.from);
        dirCurrent.set(op.to, op.ino);
        dirPending.push({ kind: 'rename', from: op.from, to: op.to, ino: op.ino });
        break;
      case 'unlink':
        dirCurrent.delete(op.path);
        dirPending.push({ kind: 'unlink', path: op.path });
        break;
      case 'dirsync':
        dirDurable = new Map(dirCurrent);
        dirPending = [];
        break;
      case 'ack':
      case 'restore':
      case 'dropped':
        break;
    }
    yield snapshot(i + 1);
  }
}

/** How many binary-ish decisions a cut leaves open (its pending dir ops and writes). */
export function openItems(cut: Cut): number {
  let n = cut.dirPending.length;
  for (const node of cut.inodes.values()) n += node.pending.length;
  return n;
}

/**
 * One crash state of a cut. `choose(n)` returns a decision in [0, n): for each pending dir op (0 undone,
 * 1 kept), then for each pending write of each live file (0 lost, 1 kept whole, 2 prefix, 3 block subset —
 * with further draws for the length or the blocks) or truncate (0 lost, 1 kept).
 */
export function draw(cut: Cut, choose: Choice): DiskState {
  const dir = new Map(cut.dirDurable);
  for (const op of cut.dirPending) {
    if (choose(2) === 0) continue;
    if (op.kind === 'link') dir.set(op.path, op.ino);
    else if (op.kind === 'unlink') dir.delete(op.path);
    else {
      if (dir.get(op.from) === op.ino) dir.delete(op.from);
      dir.set(op.to, op.ino);
    }
  }
  const contents = new Map<number, Buffer>();
  const state: DiskState = new Map();
  for (const [name, ino] of [...dir].sort(([a], [b]) => (a < b ? -1 : 1))) {
    let bytes = contents.get(ino);
    if (!bytes) {
      const node = cut.inodes.get(ino)!;
      bytes = node.durable;
      for (const p of node.pending) {
        if (p.kind === 'truncate') {
          if (choose(2) === 1) bytes = resize(bytes, p.size);
          continue;
        }
        const mode = choose(4);
        if (mode === 0) continue;
        if (mode === 1) bytes = applyWrite(bytes, p.offset, p.data);
        else if (mode === 2) bytes = applyWrite(bytes, p.offset, p.data.subarray(0, choose(p.data.length)));
        else bytes = applyBlocks(bytes, p.offset, p.data, choose);
      }
      contents.set(ino, bytes);
    }
    state.set(name, bytes);
  }
  return state;
}

const BLOCK = 4096;

/** Keeps a random subset of the write's 4 KiB blocks (aligned to the file's offsets). */
function applyBlocks(bytes: Buffer, offset: number, data: Buffer, choose: Choice): Buffer {
  let out = bytes;
  let start = 0;
  while (start < data.length) {
    const end = Math.min(data.length, (Math.floor((offset + start) / BLOCK) + 1) * BLOCK - offset);
    if (choose(2) === 1) out = applyWrite(out, offset + start, data.subarray(start, end));
    start = end;
  }
  return out;
}

function applyWrite(bytes: Buffer, offset: number, data: Buffer): Buffer {
  const out = Buffer.alloc(Math.max(bytes.length, offset + data.length));
  bytes.copy(out, 0);
  data.copy(out, offset);
  return out;
}

function resize(bytes: Buffer, size: number): Buffer {
  if (size <= bytes.length) return Buffer.from(bytes.subarray(0, size));
  const out = Buffer.alloc(size);
  bytes.copy(out, 0);
  return out;
}

// ---- choosing ---------------------------------------------------------------------------------------

/** A small, seeded PRNG (mulberry32): the same seed draws the same states on every machine. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random decisions from a seed. */
export const randomChoice = (seed: number): Choice => {
  const next = rng(seed);
  return (n) => Math.floor(next() * n);
};

/**
 * The decisions of one combination of an exhaustive walk: item i takes bit i of `mask` (lost/undone or kept
 * whole); finer choices (prefix, blocks) are not enumerated, they are sampled.
 */
export const maskChoice = (mask: number): Choice => {
  let i = 0;
  return (n) => {
    if (n === 2 || n === 4) return (mask >>> i++) & 1;
    return n - 1;
  };
};

/** A seed for one sample of one cut, stable across runs: printed with a failure, it replays that state. */
export const stateSeed = (runSeed: number, cut: number, sample: number): number => (Math.imul(runSeed ^ 0x9e3779b9, 31) + cut * 1_000_003 + sample * 7919) >>> 0;
