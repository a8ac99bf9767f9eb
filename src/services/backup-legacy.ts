/**
 * Backups of format 1 (before issue 12): the JSON driver's data files and journal, as `store.snapshot()` wrote
 * them. Clinics keep such backups, so every driver must still restore them. Turning those files into records is
 * the JSON driver's own knowledge (`materialize`: data files, then the journal on top, by generation); this
 * reader is the one place outside the driver allowed to import it, because an old backup *is* that driver's
 * files. Nothing here writes them: what comes out is records, restored through the port like any backup.
 */
import { StorageCorruptError, materialize } from '../infra/storage/json/data-files.js';
import type { ZipReader } from '../infra/zip-reader.js';
import type { Entity } from '../repositories/port.js';
import { DATA_PREFIX, type LegacyManifest, checkRecord, invalid, sha256 } from './backup-archive.js';

/**
 * Reads the (already digested) entries of a format 1 archive into memory — at most the sum its manifest
 * declares, which the caller capped — and returns the records they stand for, each checked against its schema.
 * Peak memory is about five times that sum (bytes, text, objects), as restores of this format always took.
 */
export async function readLegacyRecords(zip: ZipReader, manifest: LegacyManifest, collections: readonly string[]): Promise<Map<string, Entity[]>> {
  const files = new Map<string, Buffer>();
  for (const item of manifest.arquivos) {
    const bytes = await zip.read(item.nome, item.bytes);
    // Checked again: the file could have changed since the first pass.
    if (bytes.length !== item.bytes || sha256(bytes) !== item.sha256) throw invalid(`soma SHA-256 de ${item.nome} não confere`);
    files.set(item.nome.slice(DATA_PREFIX.length), bytes);
  }
  let maps: Map<string, Map<string, Entity>>;
  try {
    maps = materialize(files, collections);
  } catch (error) {
    if (error instanceof StorageCorruptError) throw invalid(error.message);
    if (error instanceof RangeError) throw invalid('um arquivo de dados é grande demais para ser lido');
    throw error;
  }
  files.clear();
  const records = new Map<string, Entity[]>();
  for (const [collection, map] of maps) {
    const list = [...map.values()];
    list.forEach((record, i) => checkRecord(collection, record, i));
    if (manifest.contagens[collection] !== undefined && manifest.contagens[collection] !== list.length) {
      throw invalid(`o manifesto diz ${manifest.contagens[collection]} registros de ${collection}, o arquivo tem ${list.length}`);
    }
    records.set(collection, list);
  }
  return records;
}
