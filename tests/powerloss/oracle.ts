import { createHash } from 'node:crypto';
import { JOURNAL_FILE } from '../../src/infra/storage/json/file-store.js';
import { decodeJournal } from '../../src/infra/storage/json/journal.js';
import type { FsOp } from './recording-fs.js';

type Entity = { id: string };
type Records = Map<string, Map<string, Entity>>;

/** One commit, in the order commits happened: a journal line (a transaction) or a restore. */
export type Commit =
  | { kind: 'tx'; label: string | undefined; ops: (['put', string, Entity] | ['del', string, string])[] }
  | { kind: 'restore'; label: string; records: ReadonlyMap<string, readonly Entity[]> };

/**
 * What may be on disk after a power cut, as a list of acceptable contents: the data after the first j commits,
 * for every j from the number of commits acknowledged before the cut to all of them. Anything else (a commit
 * lost after it was acknowledged, part of a commit, commits out of order) is a failure.
 *
 * The commits are read back from the log itself: each write to the journal file holds whole lines (a group
 * commit's batch), one per transaction, in the order the stores wrote them under their lock; a restore counts
 * where its intent file gets its name. A transaction's label is the `tx-N` token the workload put in it.
 */
export class Oracle {
  readonly commits: Commit[] = [];
  /** Hash of the data after the first j commits (index j). */
  readonly prefixHashes: string[] = [];
  /** For each op index of the log: how many commits happened before it (commits are made by ops). */
  private readonly commitsBefore: number[] = [];
  /** For each op index: how many commits had been acknowledged to the workload before it. */
  private readonly ackedBefore: number[] = [];

  constructor(
    ops: readonly FsOp[],
    private readonly collections: readonly string[],
  ) {
    const names = new Map<number, string>();
    let pendingRestore: Extract<FsOp, { kind: 'restore' }> | undefined;
    const indexOfLabel = new Map<string, number>();
    let acked = 0;
    for (let i = 0; i < ops.length; i++) {
      this.commitsBefore.push(this.commits.length);
      this.ackedBefore.push(acked);
      const op = ops[i]!;
      if (op.kind === 'create') names.set(op.ino, op.path);
      else if (op.kind === 'rename') {
        names.set(op.ino, op.to);
        if (op.to === RESTORE_INTENT && pendingRestore) {
          indexOfLabel.set(pendingRestore.label, this.commits.length);
          this.commits.push({ kind: 'restore', label: pendingRestore.label, records: pendingRestore.records as ReadonlyMap<string, readonly Entity[]> });
          pendingRestore = undefined;
        }
      } else if (op.kind === 'restore') pendingRestore = op;
      else if (op.kind === 'write' && names.get(op.ino) === JOURNAL_FILE) {
        const decoded = decodeJournal(op.data);
        // A writer that died mid-write leaves whole lines (commits, never acknowledged) and part of one, which the
        // next writer cuts off.
        if (decoded.corruptAt !== undefined) throw new Error(`escrita do journal com uma linha ruim no meio (op ${i})`);
        for (const entry of decoded.entries) {
          if (entry.ops.length === 0) continue; // a checkpoint's generation line
          // A cancel carries its booking's label too: the transaction's own label is the newest one in it.
          const numbers = [...JSON.stringify(entry.ops).matchAll(/"tx-(\d+)"/g)].map((m) => Number(m[1]));
          const label = numbers.length > 0 ? `tx-${Math.max(...numbers)}` : undefined;
          if (label) indexOfLabel.set(label, this.commits.length);
          this.commits.push({ kind: 'tx', label, ops: entry.ops as Commit extends { ops: infer O } ? O : never });
        }
      } else if (op.kind === 'ack') {
        const at = indexOfLabel.get(op.label);
        if (at === undefined) throw new Error(`confirmação de ${op.label} sem commit antes dela (op ${i}): confirmado antes de escrito`);
        acked = Math.max(acked, at + 1);
      }
    }
    this.commitsBefore.push(this.commits.length);
    this.ackedBefore.push(acked);
    const state: Records = new Map(collections.map((c) => [c, new Map()]));
    this.prefixHashes.push(hashRecords(state, collections));
    for (const commit of this.commits) {
      apply(state, commit, collections);
      this.prefixHashes.push(hashRecords(state, collections));
    }
  }

  /** The acceptable range of j (commits kept) for a cut after `index` ops of the log. */
  range(index: number): { min: number; max: number } {
    return { min: this.ackedBefore[index]!, max: this.commitsBefore[index]! };
  }

  /** The j whose data `loaded` equals, within the cut's range, or a description of what is wrong. */
  judge(index: number, loaded: Records): { ok: true; kept: number } | { ok: false; why: string } {
    const { min, max } = this.range(index);
    const hash = hashRecords(loaded, this.collections);
    for (let j = max; j >= min; j--) if (this.prefixHashes[j] === hash) return { ok: true, kept: j };
    const anywhere = this.prefixHashes.indexOf(hash);
    if (anywhere >= 0 && anywhere < min) return { ok: false, why: `perdeu commits confirmados: tem ${anywhere}, ${min} estavam confirmados` };
    if (anywhere > max) return { ok: false, why: `tem ${anywhere} commits, só ${max} tinham sido escritos` };
    return { ok: false, why: `os dados não são nenhum prefixo dos commits (entre ${min} e ${max}): commit pela metade ou fora de ordem` };
  }
}

const RESTORE_INTENT = 'restore.intent';

function apply(state: Records, commit: Commit, collections: readonly string[]): void {
  if (commit.kind === 'restore') {
    for (const c of collections) state.set(c, new Map((commit.records.get(c) ?? []).map((r) => [r.id, r])));
    return;
  }
  for (const op of commit.ops) {
    if (op[0] === 'put') state.get(op[1])!.set(op[2].id, op[2]);
    else state.get(op[1])!.delete(op[2]);
  }
}

/** A hash of every record of every collection, independent of order. */
export function hashRecords(state: ReadonlyMap<string, ReadonlyMap<string, Entity> | readonly Entity[]>, collections: readonly string[]): string {
  const hash = createHash('sha256');
  for (const c of collections) {
    const records = state.get(c);
    const list = records ? (Array.isArray(records) ? records : [...(records as ReadonlyMap<string, Entity>).values()]) : [];
    const lines = list.map((r) => JSON.stringify(r)).sort();
    hash.update(`${c}\n${lines.join('\n')}\n`);
  }
  return hash.digest('hex');
}
