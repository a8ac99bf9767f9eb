import { createHash } from 'node:crypto';
import type { Entity } from '../repositories/port.js';
import { ZipReader, ZipRejected } from '../infra/zip-reader.js';
import {
  BACKUP_FORMAT, BackupIntegrity, LEGACY_JOURNAL, MANIFEST, MAX_MANIFEST_BYTES, MAX_RECORD_BYTES, type ManifestEntry, checkRecord, invalid, legacyEntry,
  parseManifest, recordsEntry,
} from './backup-archive.js';
import { readLegacyRecords } from './backup-legacy.js';

/** A backup that passed every check: its records, ready to be read again for the restore itself. */
export interface CheckedBackup {
  formatVersion: number;
  /** Records per collection the backup holds (collections it does not hold are absent). */
  counts: Record<string, number>;
  /**
   * The records of one collection (none when the backup does not hold it), read from the archive again as the
   * restore consumes them. Should the file change after the checks, the stream fails (its checksum no longer
   * matches) before its end: a restore that reads it through an atomic import then writes nothing.
   */
  records(collection: string): AsyncIterable<Entity>;
  close(): void;
}

/** The most uncompressed bytes a restore accepts, by format. */
export interface RestoreLimits {
  /** Format 2, checked and imported a line at a time: this bounds the work an archive can cause, not memory. */
  recordsBytes: number;
  /** Format 1, read whole into memory. */
  legacyBytes: number;
}

/**
 * Opens and checks a plain (decrypted) backup ZIP of either format; throws BACKUP_INVALIDO.
 *
 * Memory, the bound a restore keeps:
 * 1. the central directory (≤ 64 entries) and the manifest (≤ 1 MiB);
 * 2. a first pass inflates each entry only to count and hash it, holding no bytes (one inflate stream, a few
 *    hundred kB), and stops as soon as an entry passes the size its manifest declares — so a bomb is refused
 *    after at most the sum the manifest may declare (its format's limit) came out;
 * 3. format 2: a second pass reads every record, a line at a time (≤ {@link MAX_RECORD_BYTES} each), and checks
 *    it against its schema, its id unique and the counts, and that an active admin remains (`BackupIntegrity`) —
 *    keeping only the ids (to find repeats), not records;
 *    format 1 (old backups, at most `limits.legacyBytes`): read into memory and rebuilt as the JSON driver would.
 * So checking costs a few MB plus the ids for a new backup, whatever its size; the records themselves are held
 * only by whoever consumes {@link CheckedBackup.records} (the storage driver importing them).
 */
export async function openBackup(file: string, collections: readonly string[], limits: RestoreLimits): Promise<CheckedBackup> {
  const names = new Set([MANIFEST, ...collections.map(recordsEntry), ...collections.map(legacyEntry), LEGACY_JOURNAL]);
  let zip: ZipReader | undefined;
  try {
    zip = await ZipReader.open(file, { maxEntries: 64, allowed: (n) => names.has(n) });
    if (!zip.has(MANIFEST)) throw invalid(`${MANIFEST} ausente`);
    const manifest = parseManifest(await zip.read(MANIFEST, MAX_MANIFEST_BYTES), collections);
    const listed = new Set(manifest.arquivos.map((a) => a.nome));
    for (const name of zip.names()) {
      if (name !== MANIFEST && !listed.has(name)) throw invalid(`${name} não consta do manifesto`);
    }
    const declared = manifest.arquivos.reduce((sum, a) => sum + a.bytes, 0);
    const maxBytes = manifest.formatVersion === BACKUP_FORMAT ? limits.recordsBytes : limits.legacyBytes;
    if (declared > maxBytes) throw invalid(`o conteúdo declarado (${declared} bytes) passa do limite de ${maxBytes} bytes`);
    for (const item of manifest.arquivos) {
      if (!zip.has(item.nome)) throw invalid(`o manifesto lista ${item.nome}, que não está no arquivo`);
      const seen = await zip.digest(item.nome, item.bytes);
      if (seen.bytes !== item.bytes || seen.sha256 !== item.sha256) throw invalid(`soma SHA-256 de ${item.nome} não confere`);
    }
    if (manifest.formatVersion !== BACKUP_FORMAT) {
      const records = await readLegacyRecords(zip, manifest, collections);
      zip.close();
      const integrity = new BackupIntegrity();
      for (const [collection, list] of records) for (const record of list) integrity.see(collection, record);
      integrity.check();
      return fromMemory(manifest.formatVersion, records);
    }
    const entries = new Map(manifest.arquivos.map((a) => [a.colecao, a]));
    const integrity = new BackupIntegrity();
    for (const [collection, entry] of entries) {
      for await (const record of entryRecords(zip, entry, true)) integrity.see(collection, record);
      if (manifest.contagens[collection] !== undefined && manifest.contagens[collection] !== entry.registros) {
        throw invalid(`o manifesto diz ${manifest.contagens[collection]} registros de ${collection}, o arquivo tem ${entry.registros}`);
      }
    }
    integrity.check();
    const open = zip;
    return {
      formatVersion: manifest.formatVersion,
      counts: Object.fromEntries([...entries].map(([c, e]) => [c, e.registros])),
      records: (collection) => {
        const entry = entries.get(collection);
        return entry ? rejectionsAsInvalid(entryRecords(open, entry, false)) : empty();
      },
      close: () => open.close(),
    };
  } catch (error) {
    zip?.close();
    if (error instanceof ZipRejected) throw invalid(error.message, error.cause);
    throw error;
  }
}

function fromMemory(formatVersion: number, records: Map<string, Entity[]>): CheckedBackup {
  return {
    formatVersion,
    counts: Object.fromEntries([...records].map(([c, list]) => [c, list.length])),
    records: async function* (collection) {
      yield* records.get(collection) ?? [];
    },
    close: () => records.clear(),
  };
}

async function* empty(): AsyncGenerator<Entity> {}

async function* rejectionsAsInvalid(records: AsyncIterable<Entity>): AsyncGenerator<Entity> {
  try {
    yield* records;
  } catch (error) {
    throw error instanceof ZipRejected ? invalid(error.message, error.cause) : error;
  }
}

/**
 * The records of one format 2 entry, a line at a time, its bytes hashed on the way: a line that is not a JSON
 * object with a string id, a repeated id, a line over {@link MAX_RECORD_BYTES}, a different count or checksum
 * at the end — each is BACKUP_INVALIDO. `validate` also checks each record against its schema (the first pass
 * does; the restore's pass reads the same bytes, which the checksum proves at the end of the entry).
 */
async function* entryRecords(zip: ZipReader, entry: ManifestEntry, validate: boolean): AsyncGenerator<Entity> {
  const hash = createHash('sha256');
  const ids = new Set<string>();
  let bytes = 0;
  let partial: Buffer[] = [];
  let partialBytes = 0;
  const parse = (line: Buffer): Entity => {
    const index = ids.size;
    let record: unknown;
    try {
      record = JSON.parse(line.toString('utf8'));
    } catch {
      throw invalid(`registro ${index} de ${entry.colecao} não é JSON válido`);
    }
    const id = (record as Partial<Entity> | null)?.id;
    if (typeof record !== 'object' || record === null || Array.isArray(record) || typeof id !== 'string') {
      throw invalid(`registro ${index} de ${entry.colecao} sem id`);
    }
    if (ids.has(id)) throw invalid(`id repetido em ${entry.colecao}: ${JSON.stringify(id)}`);
    ids.add(id);
    if (validate) checkRecord(entry.colecao, record, index);
    return record as Entity;
  };
  for await (const chunk of zip.chunks(entry.nome, entry.bytes)) {
    hash.update(chunk);
    bytes += chunk.length;
    let start = 0;
    // A line break byte never occurs inside a multi-byte UTF-8 character, so splitting bytes on it is safe.
    for (let end = chunk.indexOf(0x0a); end !== -1; end = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, end);
      const line = partial.length > 0 ? Buffer.concat([...partial, piece]) : piece;
      partial = [];
      partialBytes = 0;
      if (line.length > MAX_RECORD_BYTES) throw invalid(`registro ${ids.size} de ${entry.colecao} passa de ${MAX_RECORD_BYTES} bytes`);
      yield parse(line);
      start = end + 1;
    }
    if (start < chunk.length) {
      partial.push(chunk.subarray(start));
      partialBytes += chunk.length - start;
      if (partialBytes > MAX_RECORD_BYTES) throw invalid(`registro ${ids.size} de ${entry.colecao} passa de ${MAX_RECORD_BYTES} bytes`);
    }
  }
  if (partialBytes > 0) throw invalid(`${entry.nome} termina no meio de um registro`);
  if (bytes !== entry.bytes || hash.digest('hex') !== entry.sha256) throw invalid(`soma SHA-256 de ${entry.nome} não confere`);
  if (ids.size !== entry.registros) throw invalid(`o manifesto diz ${entry.registros} registros em ${entry.nome}, o arquivo tem ${ids.size}`);
}
