import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { MONTH_FILE } from './line-format.js';

const NEWLINE = 0x0a;
const CHUNK = 1 << 20;

/** Month file names in `dir`, oldest first (the names sort by time). */
export async function listMonthFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names.filter((name) => MONTH_FILE.test(name)).sort();
}

/**
 * Calls `onLine` for every whole line from byte `from` on (the `\n` not included), reading 1 MB at a time so
 * memory stays flat whatever the file size. An unterminated last line (a write cut short, or one in
 * progress in another process) is not passed on. `onLine` may return `false` to stop early.
 * Returns the offset just after the last line passed on.
 */
export async function forEachLine(
  handle: FileHandle,
  from: number,
  onLine: (line: Buffer, start: number) => boolean | void,
  to = Number.POSITIVE_INFINITY,
): Promise<number> {
  let position = from;
  let carry: Buffer = Buffer.alloc(0);
  let carryStart = from;
  const chunk = Buffer.allocUnsafe(CHUNK);
  for (;;) {
    const want = Math.min(CHUNK, to - position);
    if (want <= 0) break;
    const { bytesRead } = await handle.read(chunk, 0, want, position);
    if (bytesRead === 0) break;
    position += bytesRead;
    const data = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
    let start = 0;
    for (;;) {
      const end = data.indexOf(NEWLINE, start);
      if (end === -1) break;
      if (onLine(data.subarray(start, end), carryStart + start) === false) return carryStart + end + 1;
      start = end + 1;
    }
    // Copy: `chunk` is reused by the next read.
    carry = Buffer.from(data.subarray(start));
    carryStart += start;
  }
  return carryStart;
}

/** Offset just after the last `\n` before `size` (0 when there is none): where whole lines end. */
export async function wholeLinesEnd(handle: FileHandle, size: number): Promise<number> {
  let end = size;
  const buffer = Buffer.allocUnsafe(64 * 1024);
  while (end > 0) {
    const start = Math.max(0, end - buffer.length);
    const { bytesRead } = await handle.read(buffer, 0, end - start, start);
    const at = buffer.subarray(0, bytesRead).lastIndexOf(NEWLINE);
    if (at !== -1) return start + at + 1;
    end = start;
  }
  return 0;
}

/** The last whole line ending at `end` (which must be a line end), without its `\n`; undefined if none. */
export async function lineEndingAt(handle: FileHandle, end: number): Promise<Buffer | undefined> {
  if (end <= 0) return undefined;
  const lineStart = await wholeLinesEnd(handle, end - 1);
  const line = Buffer.allocUnsafe(end - 1 - lineStart);
  await handle.read(line, 0, line.length, lineStart);
  return line;
}

/**
 * The `id`s of the lines in the last `windowBytes` of a file. Every line starts with `{"id":"`, so the
 * id is read without parsing the JSON.
 */
export async function idsNearEnd(path: string, windowBytes: number): Promise<Set<string>> {
  const ids = new Set<string>();
  let handle: FileHandle;
  try {
    handle = await fs.open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return ids;
    throw error;
  }
  try {
    const { size } = await handle.stat();
    const from = Math.max(0, size - windowBytes);
    // Start at a line boundary: skip the partial first line of the window.
    const start = from === 0 ? 0 : await firstLineStartFrom(handle, from);
    await forEachLine(handle, start, (line) => {
      const id = idOfLine(line);
      if (id !== undefined) ids.add(id);
    });
  } finally {
    await handle.close();
  }
  return ids;
}

const ID_PREFIX = Buffer.from('{"id":"');

function idOfLine(line: Buffer): string | undefined {
  if (!line.subarray(0, ID_PREFIX.length).equals(ID_PREFIX)) return undefined;
  const end = line.indexOf(0x22, ID_PREFIX.length);
  if (end === -1) return undefined;
  // Ids are UUIDs in practice; one holding an escaped quote would be read short and so never match,
  // which only means appendMissing could append it again — never that it drops an entry.
  return line.toString('utf8', ID_PREFIX.length, end);
}

async function firstLineStartFrom(handle: FileHandle, from: number): Promise<number> {
  const buffer = Buffer.allocUnsafe(64 * 1024);
  let position = from - 1; // the byte before `from` may itself be the `\n` that ends a line
  for (;;) {
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) return position;
    const at = buffer.subarray(0, bytesRead).indexOf(NEWLINE);
    if (at !== -1) return position + at + 1;
    position += bytesRead;
  }
}
