import { crc32 } from 'node:zlib';
import type { Entity } from './store.js';

/**
 * The journal format: one line per committed transaction,
 *
 *     <crc32 of the JSON, 8 hex digits> <JSON>\n
 *
 * JSON never holds a raw newline, so lines split cleanly. A line whose checksum does not match, or an
 * unterminated last line, is what a write cut short by a crash leaves behind (a torn tail).
 *
 * Lines are written a batch at a time (a group commit: one `write`, one `fdatasync`), and each line carries `o`,
 * the byte offset in the file where its batch begins. A batch is synced before the next one is written, so after a
 * power cut only the LAST batch can be damaged — but in any way: its blocks reach the disk in any order, so a lost
 * (zeroed) block may sit between good lines. `o` tells that case from damage to synced data (see
 * {@link decodeJournalLines}). Lines written before batches carried `o` keep the older, stricter rule.
 */

export type JournalOp = ['put', string, Entity] | ['del', string, string];

export interface JournalEntry {
  /** Generation of the data files this entry applies on top of (see FileStore). */
  g: number;
  /** Commit time, ms since the epoch. */
  t: number;
  ops: JournalOp[];
  /** Byte offset in the journal file where the batch (group commit) this line was written in begins. */
  o?: number;
}

const NEWLINE = 0x0a;
const SPACE = 0x20;

export function encodeEntry(entry: JournalEntry): string {
  const json = JSON.stringify(entry);
  const sum = crc32(json).toString(16).padStart(8, '0');
  return `${sum} ${json}\n`;
}

/** The lines of one batch, to be appended at byte `offset` of the journal: each line says where its batch begins. */
export function encodeBatch(entries: readonly Omit<JournalEntry, 'o'>[], offset: number): string {
  return entries.map((entry) => encodeEntry({ ...entry, o: offset })).join('');
}

export interface DecodedJournal {
  entries: JournalEntry[];
  /** Bytes read up to the end of the last good line, counted from the start of the buffer. */
  validLength: number;
  /** Bytes after `validLength` that do not form good lines: a torn tail (or a write still in progress). */
  trailingBytes: number;
  /** A bad line followed by a good one: not a torn tail but damage in the middle of the file. */
  corruptAt: number | undefined;
}

function decodeLine(line: Buffer): JournalEntry | undefined {
  if (line.length < 10 || line[8] !== SPACE) return undefined;
  const sum = Number.parseInt(line.subarray(0, 8).toString('latin1'), 16);
  const json = line.subarray(9);
  if (!Number.isFinite(sum) || crc32(json) !== sum) return undefined;
  try {
    const entry = JSON.parse(json.toString('utf8')) as JournalEntry;
    return typeof entry.g === 'number' && Array.isArray(entry.ops) ? entry : undefined;
  } catch {
    return undefined;
  }
}

/** Decodes a run of journal bytes (from the start of the file or from a previously read offset). */
export function decodeJournal(bytes: Buffer, options: { tornBatch?: boolean } = {}): DecodedJournal & { droppedLines: number } {
  const entries: JournalEntry[] = [];
  const summary = decodeJournalLines(bufferLines(bytes), { from: 0, to: bytes.length }, (entry) => entries.push(entry), options);
  return { entries, ...summary };
}

/** Feeds each complete line (without its newline) and its offset to `onLine`, in order. */
export type LineSource = (onLine: (line: Buffer, offset: number) => void) => void;

/** The complete lines of a buffer (an unterminated last line is not one). */
export function bufferLines(bytes: Buffer): LineSource {
  return (onLine) => {
    let start = 0;
    while (start < bytes.length) {
      const end = bytes.indexOf(NEWLINE, start);
      if (end === -1) break;
      onLine(bytes.subarray(start, end), start);
      start = end + 1;
    }
  };
}

/**
 * Decodes journal lines one at a time as `lines` yields them, handing each good entry to `onEntry` — so a
 * journal of any size is read with memory for one line, not for the whole file. `range` is the byte range the
 * lines came from (offsets are in the same terms). `validLength` is the offset just after the last good line
 * handed on (`range.from` when there is none); everything after it is the torn tail, or damage.
 *
 * Bad lines at the end are a torn tail. With `tornBatch` (reading a whole journal after a crash), a bad line
 * followed by good ones is a torn tail too when a power cut can explain it: every good line after it belongs to
 * one batch, and the bad bytes lie inside that batch (at or after the offset where it begins) — the last batch,
 * not synced when the power went, whose blocks reached the disk out of order. Its later good lines are dropped with
 * the rest of the tail: keeping them without the lost ones would apply transactions out of order. Such a batch
 * was never acknowledged — unless it was synced and the disk then damaged it: a power cut and media damage look
 * alike here, and `droppedLines` says how many good lines went (the store logs it). Anything else — bad bytes
 * before the start of the batch that follows them, which was written after them, so after they were synced — is
 * damage (`corruptAt`), which the store refuses to guess about. Without `tornBatch` (a running process reading on
 * from where it was, where no power cut happened) a bad line followed by a good one is always damage.
 */
export function decodeJournalLines(
  lines: LineSource,
  range: { from: number; to: number },
  onEntry: (entry: JournalEntry) => void,
  options: { tornBatch?: boolean } = {},
): Omit<DecodedJournal, 'entries'> & { droppedLines: number } {
  let validLength = range.from;
  let firstBad: number | undefined;
  let corruptAt: number | undefined;
  /** Where the batch of the good lines after the first bad one begins (null once they are not all of one batch). */
  let batch: number | null | undefined;
  let droppedLines = 0;
  lines((line, offset) => {
    if (corruptAt !== undefined) return;
    const entry = decodeLine(line);
    if (entry && firstBad === undefined) {
      onEntry(entry);
      validLength = offset + line.length + 1;
    } else if (entry) {
      droppedLines++;
      const o = Number.isSafeInteger(entry.o) ? entry.o! : null;
      batch = batch === undefined || batch === o ? o : null;
      if (!options.tornBatch || batch === null || firstBad! < batch) corruptAt = firstBad;
    } else if (firstBad === undefined) {
      firstBad = offset;
    }
  });
  if (corruptAt !== undefined) droppedLines = 0;
  return { validLength, trailingBytes: range.to - validLength, corruptAt, droppedLines };
}
