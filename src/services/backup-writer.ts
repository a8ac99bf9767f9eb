import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ZipArchive } from 'archiver';
import type { RecordSnapshot } from '../repositories/port.js';
import { BACKUP_FORMAT, MANIFEST, type Manifest, type ManifestEntry, recordsEntry } from './backup-archive.js';

/** Records joined into one chunk of an entry: big enough to compress well, small enough to stay a few MB at most. */
const LINES_PER_CHUNK = 500;

/**
 * Adds a format 2 backup of `snapshot` to `archive`: one `data/<collection>.jsonl` entry per collection, then
 * the manifest. Nothing holds a whole collection's text: each entry is a stream that reads the snapshot a batch
 * of records at a time as the archive compresses it, hashing and counting on the way. The manifest is a stream
 * too, and waits for those figures: the archive takes its entries one at a time, in order, so by the time it
 * reads the manifest every entry before it is complete.
 *
 * A failure while reading the snapshot destroys `archive` with that error (so whatever consumes the archive sees
 * it, instead of a short ZIP that looks complete).
 */
export function appendRecords(
  archive: ZipArchive,
  snapshot: RecordSnapshot,
  collections: readonly string[],
  meta: Pick<Manifest, 'criadoEm' | 'automatico' | 'driver'>,
  date: Date,
): void {
  const entries: Promise<ManifestEntry>[] = [];
  const add = (name: string, body: AsyncIterable<Buffer>) => {
    const stream = Readable.from(body, { objectMode: false });
    stream.on('error', (error) => archive.destroy(error));
    archive.append(stream, { name, date });
  };
  for (const collection of collections) {
    let done!: (entry: ManifestEntry) => void;
    let failed!: (error: unknown) => void;
    const entry = new Promise<ManifestEntry>((resolve, reject) => ((done = resolve), (failed = reject)));
    // Handled by the manifest's stream; this keeps an early failure from counting as unhandled meanwhile.
    entry.catch(() => undefined);
    entries.push(entry);
    add(recordsEntry(collection), jsonLines(snapshot.records(collection), collection, done, failed));
  }
  add(MANIFEST, manifestBody(entries, meta));
}

async function* jsonLines(
  records: AsyncIterable<unknown>,
  collection: string,
  done: (entry: ManifestEntry) => void,
  failed: (error: unknown) => void,
): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  let bytes = 0;
  let registros = 0;
  let lines: string[] = [];
  const flush = () => {
    // JSON.stringify escapes line breaks inside strings: a record is always exactly one line.
    const chunk = Buffer.from(`${lines.join('\n')}\n`);
    lines = [];
    hash.update(chunk);
    bytes += chunk.length;
    return chunk;
  };
  try {
    for await (const record of records) {
      lines.push(JSON.stringify(record));
      registros++;
      if (lines.length === LINES_PER_CHUNK) yield flush();
    }
    if (lines.length > 0) yield flush();
  } catch (error) {
    failed(error);
    throw error;
  }
  done({ nome: recordsEntry(collection), colecao: collection, registros, bytes, sha256: hash.digest('hex') });
}

async function* manifestBody(entries: Promise<ManifestEntry>[], meta: Pick<Manifest, 'criadoEm' | 'automatico' | 'driver'>): AsyncGenerator<Buffer> {
  const arquivos = await Promise.all(entries);
  const manifest: Manifest = {
    formatVersion: BACKUP_FORMAT,
    criadoEm: meta.criadoEm,
    automatico: meta.automatico,
    driver: meta.driver,
    contagens: Object.fromEntries(arquivos.map((a) => [a.colecao, a.registros])),
    arquivos,
  };
  yield Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
}
