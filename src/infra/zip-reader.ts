import { createHash } from 'node:crypto';
import yauzl, { type Entry, type ZipFile } from 'yauzl';

/**
 * Why an archive was refused, in pt-BR: the message reaches operators (a problem's `detail`, the restore command).
 * The ZIP library's own words (English) stay in `cause`, for the log.
 */
export class ZipRejected extends Error {
  override readonly name = 'ZipRejected';
}

export interface ZipOpenLimits {
  maxEntries: number;
  /** Names allowed in the archive; anything else is refused. */
  allowed: (name: string) => boolean;
}

/**
 * A ZIP opened for careful reading. Opening reads only the central directory (names and claimed sizes,
 * at most `maxEntries` of them) and refuses entries outside the archive root (yauzl rejects absolute
 * paths and `..`), unknown names and repeated names. Nothing is inflated until asked for, and every read
 * names the most bytes it accepts: bytes are counted as they come out of the inflater and the read stops
 * the moment the count passes the cap — header sizes are never trusted, so a decompression bomb costs at
 * most `cap` bytes of work and one stream's buffers (a few hundred kB) of memory.
 */
export class ZipReader {
  private constructor(
    private readonly zip: ZipFile,
    private readonly entries: Map<string, Entry>,
  ) {}

  static async open(file: string, limits: ZipOpenLimits): Promise<ZipReader> {
    const zip = await new Promise<ZipFile>((resolve, reject) =>
      yauzl.open(file, { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: true }, (error, z) =>
        error ? reject(new ZipRejected('arquivo ZIP ilegível: não é um ZIP, ou está truncado ou corrompido', { cause: error })) : resolve(z),
      ),
    );
    try {
      if (zip.entryCount > limits.maxEntries) throw new ZipRejected(`o arquivo tem ${zip.entryCount} entradas; o máximo é ${limits.maxEntries}`);
      const entries = new Map<string, Entry>();
      await new Promise<void>((resolve, reject) => {
        const fail = (error: unknown) => reject(error instanceof ZipRejected ? error : new ZipRejected('arquivo ZIP inválido: a lista de entradas está corrompida', { cause: error }));
        zip.on('error', fail);
        zip.on('end', () => resolve());
        zip.on('entry', (entry: Entry) => {
          const name = entry.fileName;
          if (name.endsWith('/')) return zip.readEntry(); // a directory entry carries no data
          if (!limits.allowed(name)) return fail(new ZipRejected(`entrada não permitida no backup: ${JSON.stringify(name)}`));
          if (entries.has(name)) return fail(new ZipRejected(`entrada repetida: ${name}`));
          if (entry.isEncrypted()) return fail(new ZipRejected(`entrada cifrada pelo ZIP: ${name}`));
          entries.set(name, entry);
          zip.readEntry();
        });
        zip.readEntry();
      });
      return new ZipReader(zip, entries);
    } catch (error) {
      zip.close();
      throw error;
    }
  }

  /** Entry names, in archive order (directories left out). */
  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /**
   * The entry's bytes as they come out of the inflater, pulled by the consumer (so a slow consumer slows the
   * inflating instead of piling up chunks); refuses (and stops inflating) once more than `maxBytes` came out.
   * Leaving the loop early closes the entry's stream.
   */
  async *chunks(name: string, maxBytes: number): AsyncGenerator<Buffer> {
    const entry = this.entries.get(name);
    if (!entry) throw new ZipRejected(`entrada ausente: ${name}`);
    const tooLarge = () => new ZipRejected(`entrada maior que o permitido: ${name}`);
    // A claimed size over the cap is refused at once; a smaller claim is not believed, only counted.
    if (entry.uncompressedSize > maxBytes) throw tooLarge();
    const stream = await new Promise<NodeJS.ReadableStream & { destroy(error?: Error): void }>((resolve, reject) =>
      this.zip.openReadStream(entry, (error, s) => (error ? reject(new ZipRejected(`arquivo ZIP inválido: a entrada ${name} não pôde ser aberta`, { cause: error })) : resolve(s))),
    );
    let size = 0;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxBytes) throw tooLarge();
        yield chunk;
      }
    } catch (error) {
      throw error instanceof ZipRejected ? error : new ZipRejected(`arquivo ZIP inválido: o conteúdo de ${name} está corrompido`, { cause: error });
    } finally {
      stream.destroy();
    }
  }

  /**
   * Streams an entry to `sink` chunk by chunk (capped as in {@link chunks}); an error thrown by `sink` stops
   * the read. Resolves with the number of bytes produced.
   */
  async stream(name: string, maxBytes: number, sink: (chunk: Buffer) => void): Promise<number> {
    let size = 0;
    for await (const chunk of this.chunks(name, maxBytes)) {
      size += chunk.length;
      try {
        sink(chunk);
      } catch (error) {
        throw error instanceof ZipRejected ? error : new ZipRejected(`arquivo ZIP inválido: o conteúdo de ${name} está corrompido`, { cause: error });
      }
    }
    return size;
  }

  /** Size and SHA-256 of an entry, keeping none of its bytes (capped as in {@link stream}). */
  async digest(name: string, maxBytes: number): Promise<{ bytes: number; sha256: string }> {
    const hash = createHash('sha256');
    const bytes = await this.stream(name, maxBytes, (chunk) => hash.update(chunk));
    return { bytes, sha256: hash.digest('hex') };
  }

  /** The whole entry in memory (capped as in {@link stream}). */
  async read(name: string, maxBytes: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    await this.stream(name, maxBytes, (chunk) => chunks.push(chunk));
    return Buffer.concat(chunks);
  }

  close(): void {
    this.zip.close();
  }
}

export interface ZipLimits extends ZipOpenLimits {
  /** Largest uncompressed entry. */
  maxEntryBytes: number;
  /** Largest sum of uncompressed entries. */
  maxTotalBytes: number;
}

/**
 * Reads every entry of a small ZIP into memory (for tests and tools). Memory is bounded by
 * `maxTotalBytes`, counted while inflating. Restores use {@link ZipReader} directly.
 */
export async function readZip(file: string, limits: ZipLimits): Promise<Map<string, Buffer>> {
  const zip = await ZipReader.open(file, limits);
  try {
    const out = new Map<string, Buffer>();
    let left = limits.maxTotalBytes;
    for (const name of zip.names()) {
      const bytes = await zip.read(name, Math.min(limits.maxEntryBytes, left));
      left -= bytes.length;
      out.set(name, bytes);
    }
    return out;
  } finally {
    zip.close();
  }
}
