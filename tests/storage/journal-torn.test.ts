import { describe, expect, it } from 'vitest';
import { decodeJournal, encodeBatch, encodeEntry, type JournalEntry } from '../../src/infra/storage/json/journal.js';

/**
 * After a power cut only the journal's last batch can be damaged, but in any way: its 4 KiB blocks reach the
 * disk in any order. The decoder must take such a tail as torn (and drop it whole), yet still refuse damage
 * that no power cut can explain: a bad line in a batch that a later batch followed (it was synced).
 */
const entry = (k: number): Omit<JournalEntry, 's' | 'i' | 'n'> => ({ g: 0, t: 1, ops: [['put', 'consultas', { id: `c${k}`, nota: 'x'.repeat(40) } as { id: string }]] });
const batch = (s: number, from: number, count: number) => Buffer.from(encodeBatch(Array.from({ length: count }, (_, i) => entry(from + i)), s));
/** The bytes of a line replaced by zeros, its newline kept (a block that never reached the disk). */
function zeroLine(bytes: Buffer, line: number): Buffer {
  const out = Buffer.from(bytes);
  let start = 0;
  for (let i = 0; i < line; i++) start = out.indexOf(0x0a, start) + 1;
  const end = out.indexOf(0x0a, start);
  out.fill(0, start, end);
  return out;
}
const ids = (bytes: Buffer) => decodeJournal(bytes).entries.map((e) => (e.ops[0] as ['put', string, { id: string }])[2].id);

describe('journal: torn last batch versus damage', () => {
  it('when a line in the middle of the last batch is lost, then the journal ends before it and the later lines of that batch are dropped', () => {
    const bytes = zeroLine(Buffer.concat([batch(1, 0, 2), batch(2, 2, 4)]), 3); // batch 2: c2 ok, c3 lost, c4 c5 ok
    const decoded = decodeJournal(bytes);
    expect(decoded.corruptAt).toBeUndefined();
    expect(ids(bytes)).toEqual(['c0', 'c1', 'c2']);
    const firstOfBatch2 = Buffer.from(encodeBatch([entry(2), entry(3), entry(4), entry(5)], 2)).indexOf(0x0a) + 1;
    expect(decoded.validLength).toBe(batch(1, 0, 2).length + firstOfBatch2);
  });

  it('when the first line of the last batch is lost after a complete batch, then that is a torn tail too', () => {
    const bytes = zeroLine(Buffer.concat([batch(1, 0, 2), batch(2, 2, 3)]), 2);
    expect(decodeJournal(bytes).corruptAt).toBeUndefined();
    expect(ids(bytes)).toEqual(['c0', 'c1']);
  });

  it('when a line of a batch that a later batch followed is bad, then it is damage (refused)', () => {
    const bytes = zeroLine(Buffer.concat([batch(1, 0, 3), batch(2, 3, 2)]), 1); // batch 1 was synced before batch 2
    expect(decodeJournal(bytes).corruptAt).toBeDefined();
  });

  it('when a whole batch between two good ones is bad, then it is damage (a later batch proves it was synced)', () => {
    const bytes = zeroLine(Buffer.concat([batch(1, 0, 1), batch(2, 1, 1), batch(3, 2, 1)]), 1);
    expect(decodeJournal(bytes).corruptAt).toBeDefined();
  });

  it('when lines carry no batch (written before batches were numbered), then a bad line followed by a good one is damage, as before', () => {
    const old = Buffer.from([0, 1, 2].map((k) => encodeEntry({ ...entry(k) })).join(''));
    expect(decodeJournal(zeroLine(old, 1)).corruptAt).toBeDefined();
    expect(ids(zeroLine(old, 2))).toEqual(['c0', 'c1']);
  });
});
