import * as fsSync from 'node:fs';
import { bufferLines, decodeJournal, decodeJournalLines, type JournalEntry, type LineSource } from './journal.js';
import type { Entity } from './store.js';

export { decodeJournal };
export type { LineSource };

/**
 * The on-disk formats, as pure functions: data files (`<collection>.json`, a snapshot stamped with a
 * generation) and how journal entries apply on top of them. Shared by the store, restore validation and
 * the report worker, which all need "the records these files stand for".
 */

export const DATA_FORMAT = 1;
export const JOURNAL_NAME = 'journal.wal';

/** A data file that cannot be read as what it should be. The server must not start over it. */
export class StorageCorruptError extends Error {
  override readonly name = 'StorageCorruptError';
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`arquivo de dados corrompido: ${file} (${reason}); o servidor não vai sobrescrevê-lo`);
  }
}

export interface DataFile {
  format: number;
  collection: string;
  generation: number;
  records: Entity[];
}

/**
 * A data file's first line, without its newline: the snapshot's stamp, then the start of its records. The store
 * writes `dataFileHeader`, then `dataFileLines` for each run of records, then `DATA_FILE_END` (see `loadDataFile`).
 */
export function dataFileHeader(collection: string, generation: number): string {
  return `${JSON.stringify({ format: DATA_FORMAT, collection, generation }).slice(0, -1)},"records":[`;
}

/** Records, one per line, after the header (`first`) or after earlier records (then with the comma they lack). */
export function dataFileLines(records: readonly Entity[], first: boolean): string {
  return `${first ? '' : ','}\n${records.map((r) => JSON.stringify(r)).join(',\n')}`;
}

/** What ends a data file. */
export const DATA_FILE_END = '\n]}\n';

export function emptyData(collection: string): DataFile {
  return { format: DATA_FORMAT, collection, generation: 0, records: [] };
}

export function parseDataFile(file: string, text: string, collection: string): DataFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    // Only where: V8's message may quote the file's text (`Unexpected token 'G', "Genoveva Q"... is not valid
    // JSON`), and this reaches logs and problem causes.
    const position = /at position (\d+)/.exec((error as Error).message)?.[1];
    throw new StorageCorruptError(file, position === undefined ? 'JSON inválido' : `JSON inválido (posição ${position})`);
  }
  const d = data as Partial<DataFile> | null;
  if (!d || typeof d !== 'object' || d.format !== DATA_FORMAT || d.collection !== collection) {
    throw new StorageCorruptError(file, 'cabeçalho inesperado');
  }
  if (!Number.isInteger(d.generation) || !Array.isArray(d.records)) {
    throw new StorageCorruptError(file, 'geração ou registros ausentes');
  }
  for (const record of d.records) {
    if (!record || typeof record !== 'object' || typeof record.id !== 'string') {
      throw new StorageCorruptError(file, 'registro sem id');
    }
  }
  return d as DataFile;
}

/** One collection's data file, read: its generation and records. */
export interface LoadedData {
  generation: number;
  records: Map<string, Entity>;
  /** Size of the file in bytes (0 when missing). */
  bytes: number;
}

/** What a set of data files plus journal stand for, and how much of the journal was good. */
export interface Materialized {
  maps: Map<string, Map<string, Entity>>;
  generations: Map<string, number>;
  /** Bytes of good journal lines; anything after them is a torn tail. */
  journalLength: number;
  trailingBytes: number;
  /** The highest generation of any data file or journal line: new lines must not be tagged below it. */
  lastGeneration: number;
  /** Bytes of the data files. */
  dataBytes: number;
  /** Good journal lines dropped after bad bytes inside the last batch (see `decodeJournalLines`). */
  droppedLines: number;
}

/**
 * Loads each collection's data file (`load`) and applies the journal on top, skipping lines a data file of a
 * later generation already holds. Damage anywhere but a torn journal tail is an error. The one way records are
 * rebuilt from files: by the store when it loads (streaming, see {@link loadDataFile} and {@link fileLines}), and
 * from a snapshot's buffers by restore validation of old backups (see {@link materialize}). `keep` sees each
 * record before it is kept (the store freezes and pools them).
 */
export function materializeFiles(
  load: (collection: string, keep: (record: Entity) => Entity) => LoadedData,
  journal: { lines: LineSource; length: number },
  journalName: string,
  collections: readonly string[],
  keep: (record: Entity) => Entity = (record) => record,
): Materialized {
  const generations = new Map<string, number>();
  const maps = new Map<string, Map<string, Entity>>();
  let dataBytes = 0;
  for (const collection of collections) {
    const data = load(collection, keep);
    maps.set(collection, data.records);
    generations.set(collection, data.generation);
    dataBytes += data.bytes;
  }
  let lastGeneration = Math.max(0, ...generations.values());
  const decoded = decodeJournalLines(journal.lines, { from: 0, to: journal.length }, (entry) => {
    lastGeneration = Math.max(lastGeneration, entry.g);
    applyEntry(entry, generations, (c, id, after) => {
      const map = maps.get(c)!;
      if (after) map.set(id, keep(after));
      else map.delete(id);
    });
  }, { tornBatch: true });
  if (decoded.corruptAt !== undefined) throw new StorageCorruptError(journalName, `linha danificada no byte ${decoded.corruptAt}`);
  return { maps, generations, journalLength: decoded.validLength, trailingBytes: decoded.trailingBytes, lastGeneration, dataBytes, droppedLines: decoded.droppedLines };
}

/** The records of a snapshot's files (by file name); a torn journal tail is damage here too. */
export function materialize(files: ReadonlyMap<string, Buffer>, collections: readonly string[]): Map<string, Map<string, Entity>> {
  const journal = files.get(JOURNAL_NAME) ?? Buffer.alloc(0);
  const result = materializeFiles(
    (collection, keep) => {
      const name = `${collection}.json`;
      const bytes = files.get(name);
      const data = bytes === undefined ? emptyData(collection) : parseDataFile(name, bytes.toString('utf8'), collection);
      return { generation: data.generation, records: new Map(data.records.map((record) => [record.id, keep(record)])), bytes: bytes?.length ?? 0 };
    },
    { lines: bufferLines(journal), length: journal.length },
    JOURNAL_NAME,
    collections,
  );
  if (result.trailingBytes > 0) throw new StorageCorruptError(JOURNAL_NAME, `linha danificada no byte ${result.journalLength}`);
  return result.maps;
}

const NEWLINE = 0x0a;
/** How much of a file is read at a time: a line longer than this is carried over into a larger buffer. */
const READ_CHUNK = 1 << 20;

/**
 * The complete lines of bytes [from, to) of an open file, read a chunk at a time (synchronously: the store
 * loads before it serves, and catches up between requests). Memory holds one chunk and one line, whatever the
 * file's size — no string of the whole file is ever made (V8 caps a string at 512 MiB).
 *
 * A line longer than a chunk is kept as the list of its pieces and joined once, when its end is read, so reading
 * it costs time in proportion to its length (a data file written before v2 is one line: 36 MB at 100k consultas).
 */
export function fileLines(fd: number, from: number, to: number): LineSource {
  return (onLine) => {
    /** Copies of the pieces of the unfinished line read so far, from earlier chunks. */
    const pieces: Buffer[] = [];
    let lineAt = from;
    let position = from;
    const chunk = Buffer.allocUnsafe(READ_CHUNK);
    while (position < to) {
      const n = fsSync.readSync(fd, chunk, 0, Math.min(READ_CHUNK, to - position), position);
      if (n === 0) break;
      const chunkAt = position;
      position += n;
      const bytes = chunk.subarray(0, n);
      let start = 0;
      for (let end = bytes.indexOf(NEWLINE); end !== -1; end = bytes.indexOf(NEWLINE, start)) {
        const rest = bytes.subarray(start, end);
        onLine(pieces.length > 0 ? Buffer.concat([...pieces, rest]) : rest, lineAt);
        pieces.length = 0;
        start = end + 1;
        lineAt = chunkAt + start;
      }
      // The unfinished line's piece is copied out: `chunk` is reused by the next read.
      if (start < n) {
        const piece = Buffer.allocUnsafe(n - start);
        bytes.copy(piece, 0, start);
        pieces.push(piece);
      }
    }
  };
}

/**
 * Reads a data file line by line. The store writes one record per line (see `FileStore.writeDataFile`):
 *
 *     {"format":1,"collection":"consultas","generation":7,"records":[
 *     {…record…},
 *     {…record…}
 *     ]}
 *
 * which is also one valid JSON document, so an operator can read it with any tool. A file in another layout
 * (written by hand, pretty-printed) is read whole as JSON when it is small enough for that; a large one in
 * another layout is refused rather than guessed at.
 */
export function loadDataFile(file: string, collection: string, keep: (record: Entity) => Entity): LoadedData {
  let fd: number;
  try {
    fd = fsSync.openSync(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { generation: 0, records: new Map(), bytes: 0 };
    throw error;
  }
  try {
    const { size } = fsSync.fstatSync(fd);
    const records = new Map<string, Entity>();
    let ended = false;
    // A file in another layout (before v2, the whole document on one line) is known by its first line, read alone:
    // it is then read whole below, not first streamed to its end as one line.
    const header = readHeader(fd, size, collection);
    let layout = header !== undefined;
    if (layout) {
      fileLines(fd, 0, size)((line, offset) => {
        if (!layout || offset === 0) return; // the header, read already
        const text = line.toString('utf8').trim();
        if (ended) {
          if (text !== '') throw new StorageCorruptError(file, `conteúdo após o fim dos registros (byte ${offset})`);
          return;
        }
        if (text === ']}') {
          ended = true;
          return;
        }
        let record: unknown;
        try {
          record = JSON.parse(text.endsWith(',') ? text.slice(0, -1) : text);
        } catch {
          layout = false;
          return;
        }
        if (!record || typeof record !== 'object' || typeof (record as Entity).id !== 'string') {
          throw new StorageCorruptError(file, `registro sem id (byte ${offset})`);
        }
        records.set((record as Entity).id, keep(record as Entity));
      });
    }
    if (layout && header && ended) return { generation: header.generation, records, bytes: size };
    if (layout && header && !ended) throw new StorageCorruptError(file, 'arquivo incompleto (sem o fim dos registros)');
    if (size > WHOLE_READ_LIMIT) throw new StorageCorruptError(file, 'formato não reconhecido (um registro por linha esperado)');
    const data = parseDataFile(file, fsSync.readFileSync(fd, 'utf8'), collection);
    return { generation: data.generation, records: new Map(data.records.map((record) => [record.id, keep(record)])), bytes: size };
  } finally {
    fsSync.closeSync(fd);
  }
}

/** A data file's header line is far shorter than this (a collection's name and a generation). */
const HEADER_PEEK = 4096;

/** The file's first line read as a data file's header for `collection`, or undefined if it is not one. */
function readHeader(fd: number, size: number, collection: string): { generation: number } | undefined {
  const head = Buffer.alloc(Math.min(size, HEADER_PEEK));
  const n = fsSync.readSync(fd, head, 0, head.length, 0);
  const end = head.subarray(0, n).indexOf(NEWLINE);
  return end === -1 ? undefined : parseHeaderLine(head.subarray(0, end).toString('utf8').trim(), collection);
}

/** A file in another layout than one record per line is read whole only up to this size. */
const WHOLE_READ_LIMIT = 256 * 1024 * 1024;

/** The header line `{"format":1,"collection":…,"generation":…,"records":[`, or undefined if the line is not one. */
function parseHeaderLine(text: string, collection: string): { generation: number } | undefined {
  if (!text.startsWith('{') || !text.endsWith('"records":[')) return undefined;
  let header: Partial<DataFile>;
  try {
    header = JSON.parse(`${text}]}`) as Partial<DataFile>;
  } catch {
    return undefined;
  }
  if (header.format !== DATA_FORMAT || header.collection !== collection || !Number.isInteger(header.generation)) return undefined;
  return { generation: header.generation! };
}

/** Applies a journal entry's ops, skipping those a data file of a later generation already holds. */
export function applyEntry(
  entry: JournalEntry,
  generations: ReadonlyMap<string, number>,
  apply: (collection: string, id: string, after: Entity | undefined) => void,
): void {
  for (const op of entry.ops) {
    const generation = generations.get(op[1]);
    if (generation === undefined || entry.g < generation) continue;
    if (op[0] === 'put') apply(op[1], op[2].id, op[2]);
    else apply(op[1], op[2], undefined);
  }
}

/** Opens the journal for reading and says which file (inode) and how long it is. */
/**
 * Who a file is: its inode number and its birth time. An inode number alone is reused once a file is deleted (a
 * checkpoint's new journal may get the number of the one before last), and a process that took the new file for
 * the one it knew would miss everything written since.
 */
export const fileId = (stat: { ino: number; birthtimeMs: number }): string => `${stat.ino}:${stat.birthtimeMs}`;

export function openJournal(file: string): { fd: number; ino: string; size: number } | undefined {
  let fd: number;
  try {
    fd = fsSync.openSync(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const stat = fsSync.fstatSync(fd);
  return { fd, ino: fileId(stat), size: stat.size };
}
