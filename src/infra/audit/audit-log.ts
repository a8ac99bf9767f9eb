import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../core/logger.js';
import { DirectoryLock } from '../storage/json/lock.js';
import { AppendBatcher, type PendingAppend } from './append-batcher.js';
import { chainHashOf, encodeLine, GENESIS, MONTH_FILE, monthEndMs, monthFileName, monthOf } from './line-format.js';
import { idsNearEnd, lineEndingAt, listMonthFiles, wholeLinesEnd } from './month-files.js';
import { MonthIndex } from './month-index.js';
import { runQuery, type IndexedFile } from './query.js';
import type { AuditTrail } from '../../repositories/audit-trail.js';
import type { AuditEntry, AuditPage, AuditQuery, AuditVerification } from './types.js';
import { verifyChain } from './verify.js';

export interface AuditLogOptions {
  /** `DATA_DIR/auditoria`. */
  dir: string;
  logger: Logger;
  /** fdatasync every batch before acknowledging it (default true; false only for throwaway logs). */
  fsyncEachBatch?: boolean;
  lockStaleMs?: number;
  lockWaitMs?: number;
  /** How far back from the end of the current and the previous month file `appendMissing` looks for ids. */
  dedupWindowBytes?: number;
}

interface Run {
  file: string;
  /** Size of the file (after cutting a torn tail) where this run's lines start. */
  offset: number;
  lines: { entry: AuditEntry; text: string; bytes: number; hash: string }[];
}

/** Month indexes kept in memory (a 1M-entry month's index is about 1–2 MB). */
const INDEX_CACHE = 12;

/**
 * The audit trail: append-only, hash-chained JSON-lines files, one per UTC month, in `dir`.
 *
 * - **Group commit.** Appends made in the same tick (and any made while a commit is in flight) are written
 *   together: one inter-process lock, one write per month file, one fdatasync. A promise resolves only
 *   once its lines are durable.
 * - **Several processes.** Every commit takes the directory lock and reads the chain's tail from the file
 *   itself, never from memory, so processes sharing `dir` interleave whole batches and one chain.
 * - **Torn tail.** Bytes after the last `\n` can only be a write cut short (writers hold the lock), so the
 *   next commit cuts them (logging it) and chains to the last whole line; `verify` skips them likewise.
 * - **Month.** A line goes to the file of its `em`'s UTC month — or to the newest file, if that is later
 *   (an entry stamped before a month turned, committed after): the log only ever grows at its end, and
 *   file `M` never holds an `em` after the end of `M`.
 * - **Queries** use a per-month block index (see {@link MonthIndex}, {@link runQuery}).
 */
export class AuditLog implements AuditTrail {
  private readonly dir: string;
  private readonly logger: Logger;
  private readonly fsyncEachBatch: boolean;
  private readonly dedupWindowBytes: number;
  private readonly lock: DirectoryLock;
  private readonly batcher = new AppendBatcher((batch) => this.commit(batch));
  private readonly indexes = new Map<string, Promise<MonthIndex>>();
  private closed = false;

  constructor(options: AuditLogOptions) {
    this.dir = options.dir;
    this.logger = options.logger;
    this.fsyncEachBatch = options.fsyncEachBatch ?? true;
    this.dedupWindowBytes = options.dedupWindowBytes ?? 16 * 1024 * 1024;
    this.lock = new DirectoryLock(this.dir, {
      staleMs: options.lockStaleMs ?? 10_000,
      waitMs: options.lockWaitMs ?? 10_000,
      logger: this.logger,
    });
  }

  async open(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
  }

  /** Waits for pending appends, then saves the indexes so the next start need not re-read the files. */
  async close(): Promise<void> {
    this.closed = true;
    await this.batcher.idle();
    for (const index of this.indexes.values()) await (await index).saveIfBehind(true);
  }

  /** Appends the entries, in order; resolves once they are durable. */
  async append(entries: AuditEntry[]): Promise<void> {
    await this.enqueue(entries, false);
  }

  /**
   * Appends only the entries whose `id` is not in the log yet — for replaying an outbox after a crash.
   * The search covers the last `dedupWindowBytes` (16 MB, about 50,000 entries) of the current and the
   * previous month file: an outbox holds entries from the moments before a crash, which are found there.
   * Resolves with the number of entries appended.
   */
  appendMissing(entries: AuditEntry[]): Promise<number> {
    return this.enqueue(entries, true);
  }

  /** Entries matching the filter, newest first (reverse log order), with the exact total. */
  async query(q: AuditQuery): Promise<AuditPage> {
    const de = q.de?.getTime();
    const files = (await listMonthFiles(this.dir))
      // File M only holds `em` before the end of M, so months ending before `de` cannot match.
      .filter((file) => de === undefined || monthEndMs(MONTH_FILE.exec(file)![1]!) > de)
      .reverse();
    const indexed: IndexedFile[] = [];
    for (const file of files) {
      const index = await this.indexFor(file);
      await index.catchUp();
      indexed.push({ file, blocks: index.blocks() });
    }
    return runQuery(this.dir, indexed, q);
  }

  /**
   * Loads the indexes of the newest months and reads whatever their sidecars miss — all of a month whose
   * sidecar was lost (about 10–20 s for 1,000,000 entries on a small machine) — so that the first query
   * after a start does not pay for it. Optional: queries do the same on demand. Reads in 1 MB steps, so the
   * event loop keeps turning meanwhile.
   */
  async warmUp(): Promise<void> {
    for (const file of (await listMonthFiles(this.dir)).slice(-INDEX_CACHE).reverse()) {
      await (await this.indexFor(file)).catchUp();
    }
  }

  /** Checks the whole chain, streaming over every month file in order. */
  verify(): Promise<AuditVerification> {
    return verifyChain(this.dir);
  }

  private enqueue(entries: AuditEntry[], onlyMissing: boolean): Promise<number> {
    if (this.closed) return Promise.reject(new Error('AuditLog fechado'));
    return this.batcher.add(entries, onlyMissing);
  }

  /** One batch: lock, read the chain's tail from disk, write, fdatasync, unlock. Returns counts per caller. */
  private async commit(batch: readonly PendingAppend[]): Promise<number[]> {
    const runs: Run[] = [];
    const appended: number[] = [];
    const release = await this.lock.acquire();
    try {
      const files = await listMonthFiles(this.dir);
      const tail = await this.chainTail(files);
      const present = batch.some((p) => p.onlyMissing) ? await this.recentIds(files) : undefined;
      let previous = tail.hash;
      let month = tail.newest ? MONTH_FILE.exec(tail.newest)![1]! : '';
      for (const pending of batch) {
        let count = 0;
        for (const entry of pending.entries) {
          if (pending.onlyMissing && present!.has(entry.id)) continue;
          present?.add(entry.id);
          const entryMonth = monthOf(entry.em);
          if (entryMonth > month) month = entryMonth;
          const file = monthFileName(month);
          if (runs.at(-1)?.file !== file) runs.push({ file, offset: file === tail.newest ? tail.newestSize : 0, lines: [] });
          const { line, hash } = encodeLine(entry, previous);
          runs.at(-1)!.lines.push({ entry, text: line, bytes: Buffer.byteLength(line), hash });
          previous = hash;
          count++;
        }
        appended.push(count);
      }
      for (const run of runs) await this.writeRun(run);
    } finally {
      await release();
    }
    for (const run of runs) {
      // The lines are durable by now: an index hiccup must not fail the append (the next query catches up).
      await this.indexAppended(run).catch((error: unknown) => this.logger.warn({ err: error }, 'auditoria: índice não atualizado'));
    }
    return appended;
  }

  private async writeRun(run: Run): Promise<void> {
    const target = path.join(this.dir, run.file);
    const data = Buffer.from(run.lines.map((line) => line.text).join(''));
    const isNew = run.offset === 0;
    const handle = await fs.open(target, 'a');
    try {
      this.lock.assertIntact();
      for (let written = 0; written < data.length; ) {
        written += (await handle.write(data, written, data.length - written)).bytesWritten;
      }
      if (this.fsyncEachBatch) await handle.datasync();
    } catch (error) {
      // Leave no half batch behind: its callers are told it failed (an outbox retries with appendMissing).
      await handle.truncate(run.offset).catch(() => undefined);
      throw error;
    } finally {
      await handle.close();
    }
    if (isNew && this.fsyncEachBatch) await this.syncDir();
  }

  /**
   * The hash the next line chains to, read from the newest non-empty month file. Its torn tail, if any,
   * is cut first (safe: we hold the lock, so no write is in progress).
   */
  private async chainTail(files: string[]): Promise<{ hash: string; newest?: string; newestSize: number }> {
    const newest = files.at(-1);
    let newestSize = 0;
    for (let i = files.length - 1; i >= 0; i--) {
      const handle = await fs.open(path.join(this.dir, files[i]!), 'r+');
      try {
        const { size } = await handle.stat();
        const end = await wholeLinesEnd(handle, size);
        if (end < size) {
          this.logger.warn({ arquivo: files[i], bytes: size - end }, 'auditoria: linha incompleta no fim do arquivo cortada');
          await handle.truncate(end);
          await handle.datasync();
        }
        if (i === files.length - 1) newestSize = end;
        const line = await lineEndingAt(handle, end);
        if (line) return { hash: chainHashOf(line), newest, newestSize };
      } finally {
        await handle.close();
      }
    }
    return { hash: GENESIS, newest, newestSize };
  }

  private async recentIds(files: string[]): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const file of files.slice(-2)) {
      for (const id of await idsNearEnd(path.join(this.dir, file), this.dedupWindowBytes)) ids.add(id);
    }
    return ids;
  }

  /** Feeds our own new lines to a loaded index (a new file's index is started here), without re-reading. */
  private async indexAppended(run: Run): Promise<void> {
    if (!this.indexes.has(run.file) && run.offset !== 0) return; // loaded and caught up by the next query
    const index = await this.indexFor(run.file);
    index.extend(run.offset, run.lines);
    await index.saveIfBehind();
  }

  private indexFor(file: string): Promise<MonthIndex> {
    let index = this.indexes.get(file);
    if (index) {
      this.indexes.delete(file); // re-insert: the Map's order is the recency order
    } else {
      index = MonthIndex.load(this.dir, file, this.logger);
      if (this.indexes.size >= INDEX_CACHE) this.indexes.delete(this.indexes.keys().next().value!);
    }
    this.indexes.set(file, index);
    return index;
  }

  private async syncDir(): Promise<void> {
    const handle = await fs.open(this.dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
