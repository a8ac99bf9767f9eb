import { describe, expect, it } from 'vitest';
import { decodeJournal, encodeBatch, encodeEntry, type JournalEntry } from '../../src/infra/storage/json/journal.js';

/**
 * After a power cut only the journal's last batch can be damaged, but in any way: its 4 KiB blocks reach the
 * disk in any order. Reading a whole journal after a crash (`tornBatch`), the decoder must take such a tail as torn
 * (and drop it whole), yet still refuse damage that no power cut can explain: bad bytes before the start of a
 * batch written after them (they were synced).
 */
const entry = (k: number): Omit<JournalEntry, 'o'> => ({ g: 0, t: 1, ops: [['put', 'consultas', { id: `c${k}`, nota: 'x'.repeat(40) } as { id: string }]] });

/** A journal of batches of the given sizes, each stamped with the offset where it begins, as the store writes them. */
function journal(...sizes: number[]): Buffer {
  let bytes = Buffer.alloc(0);
  let k = 0;
  for (const size of sizes) {
    const batch = Buffer.from(encodeBatch(Array.from({ length: size }, () => entry(k++)), bytes.length));
    bytes = Buffer.concat([bytes, batch]);
  }
  return bytes;
}
/** The bytes of a line replaced by zeros, its newline kept (a block that never reached the disk). */
function zeroLine(bytes: Buffer, line: number): Buffer {
  const out = Buffer.from(bytes);
  let start = 0;
  for (let i = 0; i < line; i++) start = out.indexOf(0x0a, start) + 1;
  out.fill(0, start, out.indexOf(0x0a, start));
  return out;
}
const ids = (decoded: ReturnType<typeof decodeJournal>) => decoded.entries.map((e) => (e.ops[0] as ['put', string, { id: string }])[2].id);
const afterCrash = (bytes: Buffer) => decodeJournal(bytes, { tornBatch: true });

describe('journal: torn last batch versus damage', () => {
  it('when a line in the middle of the last batch is lost, then the journal ends before it and the later lines of that batch are dropped', () => {
    const bytes = zeroLine(journal(2, 4), 3); // batch 2: c2 ok, c3 lost, c4 c5 ok
    const decoded = afterCrash(bytes);
    expect(decoded.corruptAt).toBeUndefined();
    expect(ids(decoded)).toEqual(['c0', 'c1', 'c2']);
    expect(decoded.droppedLines).toBe(2);
    expect(decoded.validLength).toBe(journal(2, 1).length);
  });

  it('when the first line of the last batch is lost after a complete batch, then that is a torn tail too', () => {
    const decoded = afterCrash(zeroLine(journal(2, 3), 2));
    expect(decoded.corruptAt).toBeUndefined();
    expect(ids(decoded)).toEqual(['c0', 'c1']);
  });

  it('when recovery kept part of a batch and the next batch is torn at its first line, then that is still a torn tail (a crash after a crash)', () => {
    // The first crash left c0 of a 3-line batch; recovery cut the rest. The next batch begins right after c0.
    const kept = journal(1); // c0, its batch began at 0
    const next = Buffer.from(encodeBatch([entry(7), entry(8)], kept.length));
    const decoded = afterCrash(zeroLine(Buffer.concat([kept, next]), 1));
    expect(decoded.corruptAt).toBeUndefined();
    expect(ids(decoded)).toEqual(['c0']);
  });

  it('when a line of a batch that a later batch followed is bad, then it is damage (refused)', () => {
    expect(afterCrash(zeroLine(journal(3, 2), 1)).corruptAt).toBeDefined();
  });

  it('when a whole batch between two good ones is bad, then it is damage (a later batch proves it was synced)', () => {
    expect(afterCrash(zeroLine(journal(1, 1, 1), 1)).corruptAt).toBeDefined();
  });

  it('when a running process reads on (no crash happened), then a bad line followed by a good one is damage, torn batch or not', () => {
    expect(decodeJournal(zeroLine(journal(2, 4), 3)).corruptAt).toBeDefined();
  });

  it('when lines carry no batch offset (written before), then a bad line followed by a good one is damage, as before', () => {
    const old = Buffer.from([0, 1, 2].map((k) => encodeEntry({ ...entry(k) })).join(''));
    expect(afterCrash(zeroLine(old, 1)).corruptAt).toBeDefined();
    expect(ids(afterCrash(zeroLine(old, 2)))).toEqual(['c0', 'c1']);
  });
});
