import * as fsSync from 'node:fs';
import { decodeJournal, type JournalEntry } from './journal.js';
import type { Entity } from './store.js';

export { decodeJournal };

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

export function emptyData(collection: string): DataFile {
  return { format: DATA_FORMAT, collection, generation: 0, records: [] };
}

export function parseDataFile(file: string, text: string, collection: string): DataFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new StorageCorruptError(file, `JSON inválido: ${(error as Error).message}`);
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

/** What a set of data files plus journal stand for, and how much of the journal was good. */
export interface Materialized {
  maps: Map<string, Map<string, Entity>>;
  generations: Map<string, number>;
  /** Bytes of good journal lines; anything after them is a torn tail. */
  journalLength: number;
  trailingBytes: number;
  /** The highest generation of any data file or journal line: new lines must not be tagged below it. */
  lastGeneration: number;
}

/**
 * Parses each collection's data file (missing means empty) and applies the journal on top, skipping lines a
 * data file of a later generation already holds. Damage anywhere but a torn journal tail is an error. The one
 * way records are rebuilt from files: by the store when it loads, by restore validation and the report worker.
 * `keep` sees each record before it is kept (the store freezes and pools them).
 */
export function materializeFiles(
  dataFile: (collection: string) => { name: string; text: string | undefined },
  journal: Buffer,
  journalName: string,
  collections: readonly string[],
  keep: (record: Entity) => Entity = (record) => record,
): Materialized {
  const generations = new Map<string, number>();
  const maps = new Map<string, Map<string, Entity>>();
  for (const collection of collections) {
    const { name, text } = dataFile(collection);
    const data = text === undefined ? emptyData(collection) : parseDataFile(name, text, collection);
    maps.set(collection, new Map(data.records.map((record) => [record.id, keep(record)])));
    generations.set(collection, data.generation);
  }
  const decoded = decodeJournal(journal);
  if (decoded.corruptAt !== undefined) throw new StorageCorruptError(journalName, `linha danificada no byte ${decoded.corruptAt}`);
  let lastGeneration = Math.max(0, ...generations.values());
  for (const entry of decoded.entries) {
    lastGeneration = Math.max(lastGeneration, entry.g);
    applyEntry(entry, generations, (c, id, after) => {
      const map = maps.get(c)!;
      if (after) map.set(id, keep(after));
      else map.delete(id);
    });
  }
  return { maps, generations, journalLength: decoded.validLength, trailingBytes: decoded.trailingBytes, lastGeneration };
}

/** The records of a snapshot's files (by file name); a torn journal tail is damage here too. */
export function materialize(files: ReadonlyMap<string, Buffer>, collections: readonly string[]): Map<string, Map<string, Entity>> {
  const result = materializeFiles(
    (collection) => ({ name: `${collection}.json`, text: files.get(`${collection}.json`)?.toString('utf8') }),
    files.get(JOURNAL_NAME) ?? Buffer.alloc(0),
    JOURNAL_NAME,
    collections,
  );
  if (result.trailingBytes > 0) throw new StorageCorruptError(JOURNAL_NAME, `linha danificada no byte ${result.journalLength}`);
  return result.maps;
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
export function openJournal(file: string): { fd: number; ino: number; size: number } | undefined {
  let fd: number;
  try {
    fd = fsSync.openSync(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const { ino, size } = fsSync.fstatSync(fd);
  return { fd, ino, size };
}

export function readFrom(fd: number, from: number, to: number): Buffer {
  const buffer = Buffer.alloc(to - from);
  let read = 0;
  while (read < buffer.length) {
    const n = fsSync.readSync(fd, buffer, read, buffer.length - read, from + read);
    if (n === 0) break;
    read += n;
  }
  return read === buffer.length ? buffer : buffer.subarray(0, read);
}
