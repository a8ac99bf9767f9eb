import yauzl, { type Entry, type ZipFile } from 'yauzl';

export interface ZipLimits {
  maxEntries: number;
  /** Largest uncompressed entry. */
  maxEntryBytes: number;
  /** Largest sum of uncompressed entries (a guard against decompression bombs). */
  maxTotalBytes: number;
  /** Names allowed in the archive; anything else is refused. */
  allowed: (name: string) => boolean;
}

/** Why an archive was refused, in pt-BR. */
export class ZipRejected extends Error {
  override readonly name = 'ZipRejected';
}

/**
 * Reads a whole ZIP into memory, refusing what a backup must never contain: entries outside the archive
 * root (yauzl rejects absolute paths and `..`), unknown names, too many or too large entries, and entries
 * whose real size differs from the header. Memory is bounded by `maxTotalBytes`.
 */
export async function readZip(file: string, limits: ZipLimits): Promise<Map<string, Buffer>> {
  const zip = await new Promise<ZipFile>((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: true }, (error, z) =>
      error ? reject(new ZipRejected(`arquivo ZIP ilegível: ${error.message}`)) : resolve(z),
    ),
  );
  const out = new Map<string, Buffer>();
  let total = 0;
  try {
    if (zip.entryCount > limits.maxEntries) throw new ZipRejected(`o arquivo tem ${zip.entryCount} entradas; o máximo é ${limits.maxEntries}`);
    await new Promise<void>((resolve, reject) => {
      const fail = (error: unknown) => reject(error instanceof ZipRejected ? error : new ZipRejected(`arquivo ZIP inválido: ${(error as Error).message}`));
      zip.on('error', fail);
      zip.on('end', () => resolve());
      zip.on('entry', (entry: Entry) => {
        const name = entry.fileName;
        if (name.endsWith('/')) return zip.readEntry(); // a directory entry carries no data
        if (!limits.allowed(name)) return fail(new ZipRejected(`entrada não permitida no backup: ${JSON.stringify(name)}`));
        if (out.has(name)) return fail(new ZipRejected(`entrada repetida: ${name}`));
        if (entry.uncompressedSize > limits.maxEntryBytes) return fail(new ZipRejected(`entrada grande demais: ${name}`));
        total += entry.uncompressedSize;
        if (total > limits.maxTotalBytes) return fail(new ZipRejected('o conteúdo do backup passa do limite de tamanho'));
        zip.openReadStream(entry, (error, stream) => {
          if (error) return fail(error);
          const chunks: Buffer[] = [];
          let size = 0;
          stream.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > limits.maxEntryBytes) stream.destroy(new ZipRejected(`entrada grande demais: ${name}`));
            else chunks.push(chunk);
          });
          stream.on('error', fail);
          stream.on('end', () => {
            out.set(name, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
  return out;
}
