import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fileLines } from '../../src/infra/storage/json/data-files.js';

const MiB = 1 << 20;
const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Every line `fileLines` gives for `text` written to a file, with its offset, from byte `from` on. */
function linesOf(text: string | Buffer, from = 0): { line: string; at: number }[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'agenda-lines-'));
  dirs.push(dir);
  const file = path.join(dir, 'f');
  writeFileSync(file, text);
  const fd = openSync(file, 'r');
  try {
    const out: { line: string; at: number }[] = [];
    fileLines(fd, from, Buffer.byteLength(text))((line, at) => out.push({ line: line.toString('utf8'), at }));
    return out;
  } finally {
    closeSync(fd);
  }
}

/** What a reader of the whole text would say: complete lines (an unfinished last one left out) and where each starts. */
function expected(text: string, from = 0): { line: string; at: number }[] {
  const bytes = Buffer.from(text).subarray(from);
  const out: { line: string; at: number }[] = [];
  let start = 0;
  for (let end = bytes.indexOf(10); end !== -1; end = bytes.indexOf(10, start)) {
    out.push({ line: bytes.subarray(start, end).toString('utf8'), at: from + start });
    start = end + 1;
  }
  return out;
}

describe('fileLines: a file read as lines, a chunk (1 MiB) at a time', () => {
  it('when lines are short, long, end exactly at a chunk boundary or span several chunks, then each comes whole with its offset', () => {
    const before = ['a', '', 'é'.repeat(10), 'x'.repeat(MiB - 20), 'y'.repeat(3 * MiB + 7)].join('\n');
    // This line's newline is the last byte of a chunk: the next chunk starts a line, with nothing carried over.
    const edge = 5 * MiB - Buffer.byteLength(before) - 2;
    const text = [before, 'z'.repeat(edge), 'ü'.repeat(MiB), `${'w'.repeat(2 * MiB)} unfinished, spanning chunks`].join('\n');
    expect(Buffer.from(text).indexOf(10, Buffer.byteLength(before) + 1)).toBe(5 * MiB - 1);
    const got = linesOf(text);
    expect(got).toEqual(expected(text));
    expect(got.map((l) => l.line.length)).toEqual([1, 0, 10, MiB - 20, 3 * MiB + 7, edge, MiB]);
  });

  it('when read from an offset, then offsets count from the start of the file', () => {
    const text = `${'p'.repeat(2 * MiB)}\nq\n${'r'.repeat(MiB + 5)}\ns\n`;
    expect(linesOf(text, MiB)).toEqual(expected(text, MiB));
  });

  it('when one line spans 20 chunks (a data file written before v2 is one line), then its pieces are joined once, not again at every chunk', () => {
    const concat = vi.spyOn(Buffer, 'concat');
    const text = `${'{"id":"x"},'.repeat(Math.floor((20 * MiB) / 11))}\n`;
    const got = linesOf(text);
    expect(got).toHaveLength(1);
    expect(got[0]!.line.length).toBe(text.length - 1);
    // Joined at every chunk, the line read so far would be copied again each time: 20 joins, about 200 MiB.
    expect(concat).toHaveBeenCalledTimes(1);
  });
});
