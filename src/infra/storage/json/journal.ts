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
 * Lines are written a batch at a time (a group commit: one `write`, one `fdatasync`), and each line says where
 * it sits: batch `s` (1, 2, … within one journal file), line `i` of `n`. A batch is synced before the next one
 * is written, so after a power cut only the LAST batch can be damaged — but in any way: its blocks reach the
 * disk in any order, so a lost (zeroed) block may sit between good lines. Those positions tell that case from
 * damage to synced data (see {@link decodeJournalLines}). Lines written before batches were numbered have no
 * position and keep the older, stricter rule.
 */

export type JournalOp = ['put', string, Entity] | ['del', string, string];

export interface JournalEntry {
  /** Generation of the data files this entry applies on top of (see FileStore). */
  g: number;
  /** Commit time, ms since the epoch. */
  t: number;
  ops: JournalOp[];
  /** The batch (group commit) this line was written in: 1, 2, … within its journal file. */
  s?: number;
  /** This line's index within its batch, and the batch's number of lines. */
  i?: number;
  n?: number;
}

const NEWLINE = 0x0a;
const SPACE = 0x20;

export function encodeEntry(entry: JournalEntry): string {
  const json = JSON.stringify(entry);
  const sum = crc32(json).toString(16).padStart(8, '0');
  return `${sum} ${json}\n`;
}

/** The lines of batch `s`: one per entry, each stamped with its place in the batch. */
export function encodeBatch(entries: readonly Omit<JournalEntry, 's' | 'i' | 'n'>[], s: number): string {
  return entries.map((entry, i) => encodeEntry({ ...entry, s, i, n: entries.length })).join('');
}

const positioned = (entry: JournalEntry): entry is JournalEntry & { s: number; i: number; n: number } =>
  Number.isSafeInteger(entry.s) && Number.isSafeInteger(entry.i) && Number.isSafeInteger(entry.n) && entry.i! < entry.n!;

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
export function decodeJournal(bytes: Buffer): DecodedJournal {
  const entries: JournalEntry[] = [];
  const summary = decodeJournalLines(bufferLines(bytes), { from: 0, to: bytes.length }, (entry) => entries.push(entry));
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
 * Bad lines at the end are a torn tail. A bad line followed by good ones is a torn tail too when a power cut can
 * explain it: every good line after it belongs to one batch, the last of the file, and the bad bytes lie within
 * that batch — the line before them is of the same batch, or ends the batch just before it (or there is none).
 * Those later good lines are dropped with the rest of the tail: that batch was never acknowledged (it is not
 * synced), and keeping its later transactions without the lost ones would apply them out of order. Anything
 * else — a damaged line of a batch that a later batch followed, so was synced — is damage (`corruptAt`), which
 * the store refuses to guess about.
 */
export function decodeJournalLines(
  lines: LineSource,
  range: { from: number; to: number },
  onEntry: (entry: JournalEntry) => void,
  /** The line just before `range.from`, when reading on from there. */
  previous?: JournalEntry,
): Omit<DecodedJournal, 'entries'> {
  let validLength = range.from;
  let firstBad: number | undefined;
  let corruptAt: number | undefined;
  /** The last good line handed on (before any bad one). */
  let before: JournalEntry | undefined = previous;
  /** The batch of the good lines after the first bad one (null once they are not all of one batch). */
  let after: number | null | undefined;
  lines((line, offset) => {
    if (corruptAt !== undefined) return;
    const entry = decodeLine(line);
    if (entry && firstBad === undefined) {
      onEntry(entry);
      before = entry;
      validLength = offset + line.length + 1;
    } else if (entry) {
      after = positioned(entry) && (after === undefined || after === entry.s) ? entry.s : null;
    } else if (firstBad === undefined) {
      firstBad = offset;
    }
  });
  if (firstBad !== undefined && after !== undefined && !tornWithinLastBatch(before, after)) corruptAt = firstBad;
  return { validLength, trailingBytes: range.to - validLength, corruptAt };
}

/** Can bad bytes between `before` (the last good line before them) and good lines of batch `after` be a power cut's? */
function tornWithinLastBatch(before: JournalEntry | undefined, after: number | null): boolean {
  if (after === null) return false;
  // The file's first numbered batch may follow lines written before batches were numbered.
  if (before === undefined || !positioned(before)) return after === 1;
  if (before.s === after) return true;
  return before.s + 1 === after && before.i === before.n - 1;
}
