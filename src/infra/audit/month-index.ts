import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../core/logger.js';
import {
  BLOCK_LINES,
  BLOCK_MAX_BYTES,
  BlockBuilder,
  loadBlock,
  saveBlock,
  type BlockSummary,
  type IndexedFields,
  type SavedBlock,
} from './block-summary.js';
import { chainHashOf, sha256Hex } from './line-format.js';
import { forEachLine, lineEndingAt } from './month-files.js';
import type { AuditEntry } from './types.js';

const VERSION = 2;
/** Sealed blocks not yet in the sidecar before it is rewritten (a lagging sidecar only costs a re-read). */
const PERSIST_EVERY_BLOCKS = 8;

interface Sidecar {
  v: number;
  blockLines: number;
  blockMaxBytes: number;
  /** Bytes of the month file the saved blocks cover; `lastHash` is the hash of the line ending there. */
  covered: number;
  lastHash: string;
  blocks: SavedBlock[];
}

export const sidecarName = (monthFile: string): string => monthFile.replace(/\.jsonl$/, '.idx.json');

export function fieldsOf(entry: Pick<AuditEntry, 'em' | 'usuarioId' | 'acao' | 'pacienteIds'>): IndexedFields {
  return { t: Date.parse(entry.em), usuarioId: entry.usuarioId ?? null, acao: entry.acao, pacienteIds: entry.pacienteIds };
}

/**
 * The block index of one month file. The `.jsonl` is the source of truth; the sidecar
 * (`2026-11.idx.json`) only saves the work of reading it. A sidecar is trusted only if the month file still
 * has, at the byte where the sidecar stops, a line with the hash it recorded; otherwise it is thrown away
 * and rebuilt. Lines past the sidecar's end are always read from the file before answering ({@link catchUp}),
 * so a stale or lagging sidecar can never hide an entry.
 */
export class MonthIndex {
  private sealed: BlockSummary[] = [];
  private open = new BlockBuilder(0);
  private savedBlocks = 0;
  private sealedLastHash = '';
  /** Serialises catch-ups; while one runs, appends of this process do not extend the index. */
  private work: Promise<void> = Promise.resolve();
  private busy = false;

  private constructor(
    private readonly dir: string,
    readonly file: string,
    private readonly logger: Logger,
  ) {}

  /** Loads the sidecar if it is still valid for the month file; the caller then {@link catchUp}s. */
  static async load(dir: string, file: string, logger: Logger): Promise<MonthIndex> {
    const index = new MonthIndex(dir, file, logger);
    let sidecar: Sidecar;
    try {
      sidecar = JSON.parse(await fs.readFile(path.join(dir, sidecarName(file)), 'utf8')) as Sidecar;
    } catch {
      return index; // missing or unreadable: rebuilt from the month file
    }
    if (await index.sidecarFits(sidecar)) {
      index.sealed = sidecar.blocks.map(loadBlock);
      index.savedBlocks = index.sealed.length;
      index.sealedLastHash = sidecar.lastHash;
      index.open = new BlockBuilder(sidecar.covered);
    } else {
      logger.warn({ arquivo: file }, 'índice da auditoria desatualizado; será reconstruído');
    }
    return index;
  }

  private async sidecarFits(sidecar: Sidecar): Promise<boolean> {
    if (sidecar.v !== VERSION || sidecar.blockLines !== BLOCK_LINES || sidecar.blockMaxBytes !== BLOCK_MAX_BYTES) return false;
    let at = 0;
    for (const block of sidecar.blocks) {
      if (block.s !== at) return false;
      at = block.e;
    }
    if (at !== sidecar.covered) return false;
    if (sidecar.covered === 0) return true;
    const handle = await fs.open(path.join(this.dir, this.file), 'r').catch(() => undefined);
    if (!handle) return false;
    try {
      const { size } = await handle.stat();
      if (size < sidecar.covered) return false;
      const line = await lineEndingAt(handle, sidecar.covered);
      return line !== undefined && chainHashOf(line) === sidecar.lastHash;
    } finally {
      await handle.close();
    }
  }

  /** Every block, newest last; the block being filled is included (exact) when it has lines. */
  blocks(): BlockSummary[] {
    return this.open.lines > 0 ? [...this.sealed, this.open.live()] : this.sealed;
  }

  /** Bytes of the month file this index covers. */
  get end(): number {
    return this.open.end;
  }

  /** Reads and indexes the lines appended since the index's end (by any process). */
  catchUp(): Promise<void> {
    this.work = this.work.then(() => this.readNewLines());
    return this.work;
  }

  private async readNewLines(): Promise<void> {
    this.busy = true;
    try {
      const handle = await fs.open(path.join(this.dir, this.file), 'r').catch(() => undefined);
      if (!handle) return this.reset();
      try {
        const { size } = await handle.stat();
        if (size < this.open.end) {
          this.logger.warn({ arquivo: this.file }, 'arquivo de auditoria encolheu; índice reconstruído');
          this.reset();
        }
        if (size > this.open.end) await forEachLine(handle, this.open.end, (line, start) => this.addLine(line, start));
      } finally {
        await handle.close();
      }
      await this.saveIfBehind();
    } finally {
      this.busy = false;
    }
  }

  private addLine(line: Buffer, start: number): void {
    let fields: IndexedFields | undefined;
    let hash: string;
    try {
      const entry = JSON.parse(line.toString('utf8')) as AuditEntry & { hash?: unknown };
      fields = typeof entry.acao === 'string' && typeof entry.em === 'string' ? fieldsOf(entry) : undefined;
      hash = typeof entry.hash === 'string' ? entry.hash : chainHashOf(line);
    } catch {
      hash = sha256Hex(line);
    }
    this.push(fields, start + line.length + 1, hash);
  }

  /**
   * Indexes lines this process has just appended at byte `from`, without reading them back. Only done
   * when the index ends exactly there and no catch-up is running; otherwise the next catch-up reads them.
   */
  extend(from: number, lines: { entry: AuditEntry; bytes: number; hash: string }[]): boolean {
    if (this.busy || from !== this.open.end) return false;
    let end = from;
    for (const { entry, bytes, hash } of lines) {
      end += bytes;
      this.push(fieldsOf(entry), end, hash);
    }
    return true;
  }

  private push(fields: IndexedFields | undefined, end: number, hash: string): void {
    this.open.add(fields, end, hash);
    if (this.open.full) {
      this.sealed.push(this.open.seal());
      this.sealedLastHash = this.open.lastHash;
      this.open = new BlockBuilder(end);
    }
  }

  private reset(): void {
    this.sealed = [];
    this.open = new BlockBuilder(0);
    this.savedBlocks = 0;
    this.sealedLastHash = '';
  }

  /** Rewrites the sidecar when enough sealed blocks are missing from it (or `force` and any are). */
  async saveIfBehind(force = false): Promise<void> {
    const behind = this.sealed.length - this.savedBlocks;
    if (behind <= 0 || (!force && behind < PERSIST_EVERY_BLOCKS && this.savedBlocks > 0)) return;
    const blocks = this.sealed.slice();
    const sidecar: Sidecar = {
      v: VERSION,
      blockLines: BLOCK_LINES,
      blockMaxBytes: BLOCK_MAX_BYTES,
      covered: blocks.at(-1)!.end,
      lastHash: this.sealedLastHash,
      blocks: blocks.map(saveBlock),
    };
    // Derived data: temp file + rename so readers never see half a sidecar; no fsync needed, since a lost
    // or old sidecar is detected and rebuilt. Unique temp names let two processes save at once safely.
    const target = path.join(this.dir, sidecarName(this.file));
    const temp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await fs.writeFile(temp, JSON.stringify(sidecar));
      await fs.rename(temp, target);
      this.savedBlocks = blocks.length;
    } catch (error) {
      await fs.rm(temp, { force: true });
      this.logger.warn({ err: error, arquivo: this.file }, 'não foi possível salvar o índice da auditoria');
    }
  }
}
