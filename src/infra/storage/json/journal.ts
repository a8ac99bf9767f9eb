import { crc32 } from 'node:zlib';
import type { Entity } from './store.js';

/**
 * The journal format: one line per committed transaction,
 *
 *     <crc32 of the JSON, 8 hex digits> <JSON>\n
 *
 * JSON never holds a raw newline, so lines split cleanly. A line whose checksum does not match, or an
 * unterminated last line, is what a write cut short by a crash leaves behind (a torn tail).
 */

export type JournalOp = ['put', string, Entity] | ['del', string, string];

export interface JournalEntry {
  /** Generation of the data files this entry applies on top of (see FileStore). */
  g: number;
  /** Commit time, ms since the epoch. */
  t: number;
  ops: JournalOp[];
}

const NEWLINE = 0x0a;
const SPACE = 0x20;

export function encodeEntry(entry: JournalEntry): string {
  const json = JSON.stringify(entry);
  const sum = crc32(json).toString(16).padStart(8, '0');
  return `${sum} ${json}\n`;
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
 * lines came from (offsets are in the same terms). The rules of {@link DecodedJournal} apply: a bad line followed
 * by a good one is damage (`corruptAt`, and the good one is not handed on); bad lines at the end are a torn tail.
 * `validLength` is the offset just after the last good line (`range.from` when there is none).
 */
export function decodeJournalLines(
  lines: LineSource,
  range: { from: number; to: number },
  onEntry: (entry: JournalEntry) => void,
): Omit<DecodedJournal, 'entries'> {
  let validLength = range.from;
  let firstBad: number | undefined;
  let corruptAt: number | undefined;
  lines((line, offset) => {
    if (corruptAt !== undefined) return;
    const entry = decodeLine(line);
    if (entry && firstBad === undefined) {
      onEntry(entry);
      validLength = offset + line.length + 1;
    } else if (entry) {
      corruptAt = firstBad;
    } else if (firstBad === undefined) {
      firstBad = offset;
    }
  });
  return { validLength, trailingBytes: range.to - validLength, corruptAt };
}
