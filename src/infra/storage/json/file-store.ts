import { AsyncResource } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import * as fsSync from 'node:fs';
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { restoreInProgress, StorageUnavailableError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import { CachedReads } from './collections.js';
import { encodeBatch, type JournalOp } from './journal.js';
import { DATA_FILE_END, JOURNAL_NAME, dataFileHeader, dataFileLines, StorageCorruptError, applyEntry, fileId, fileLines, loadDataFile, materializeFiles, openJournal } from './data-files.js';
import { decodeJournalLines, type JournalEntry } from './journal.js';

export { StorageCorruptError, materialize } from './data-files.js';
import { DirectoryLock, RESTORE_LOCK_NAME } from './lock.js';
import type { Change, Entity, SnapshotFile, Store, StoreSnapshot, TxWork } from './store.js';

/**
 * Durable storage in a data directory shared by any number of processes.
 *
 * Files: one data file per collection (`medicos.json`, …), each a full snapshot stamped with a
 * *generation*, and one append-only journal (`journal.wal`) of the transactions committed since.
 *
 * A commit appends one checksummed line per transaction to the journal and `fdatasync`s it before anyone
 * is told "done": the cost of a write does not depend on how many records exist. Pending transactions
 * are committed together (group commit): one lock, one `write`, one `fdatasync` for the whole batch.
 * When the journal grows past the size of the data files, a checkpoint writes new data files (temp file,
 * write, fsync, rename, fsync of the directory) with the next generation and starts an empty journal, so
 * the checkpoint's cost per write stays constant too. Journal lines older than a data file's generation
 * are already inside it, which makes a crash at any point of a checkpoint harmless.
 *
 * Every write happens under the directory lock (see {@link DirectoryLock}). Before writing, the store
 * reads what other processes appended since it last looked, so rules are always checked against
 * everything committed. A torn last line (a writer killed mid-append) is detected by its checksum and
 * cut off by the next writer; damage anywhere else stops the store rather than guessing.
 */

export const JOURNAL_FILE = JOURNAL_NAME;
const RESTORE_SUFFIX = '.restore';
const RESTORE_INTENT = 'restore.intent';

const TEMP_PATTERN = /\.tmp-\d+-[0-9a-f]+$/;
/** How long the writer keeps the lock while batches keep coming. */
const HOLD_LOCK_MS = 25;

/** The subset of `fs/promises` the write path uses: the seam where tests inject disk faults. */
/**
 * The file-system calls through which every change this store makes to the disk goes: file contents (handles
 * from `open`: write, truncate, sync, datasync), names (`rename`, `unlink`, `rm`, `mkdir`, `writeFile`) and
 * directory syncs (a directory opened `'r'` and synced). Reads may go around it (they change nothing). Tests
 * put a recorder here (the power-loss explorer, `tests/powerloss/`) or inject faults; by default it is
 * `node:fs/promises`. The last three are optional for seams written before they were added.
 */
export interface StorageFs {
  open: typeof fsp.open;
  rename: typeof fsp.rename;
  unlink: typeof fsp.unlink;
  mkdir?: typeof fsp.mkdir;
  rm?: typeof fsp.rm;
  writeFile?: typeof fsp.writeFile;
}

export interface FileStoreOptions {
  dir: string;
  collections: readonly string[];
  logger: Logger;
  staleMs?: number;
  lockWaitMs?: number;
  /** Checkpoint once the journal is larger than this and larger than the data files. */
  checkpointMinBytes?: number;
  maxBatch?: number;
  fs?: StorageFs;
  /** How often to look for other processes' commits without being asked (0: only when read). */
  watchMs?: number;
  /** Fields holding ids of other records, kept as one shared string per value (see `Collections.admit`). */
  sharedFields?: readonly string[];
}

interface Pending {
  work: TxWork<unknown>;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

export class FileStore extends CachedReads implements Store {
  private readonly dir: string;
  private readonly logger: Logger;
  private readonly lock: DirectoryLock;
  private readonly restoreLock: DirectoryLock;
  private readonly fs: Required<StorageFs>;
  private readonly checkpointMinBytes: number;
  private readonly maxBatch: number;
  private readonly lockWaitMs: number;
  private readonly staleMs: number;

  private readonly generations = new Map<string, number>();
  /**
   * The generation new journal lines are tagged with: never below any data file's or any line's seen, so no
   * line can be skipped behind a data file of a later generation (see `checkpointLocked`).
   */
  private writeGeneration = 0;
  /** The journal as this process knows it: which file (`fileId`: inode and birth time) and how far it has read. */
  private journal = { ino: '', offset: 0 };
  private dataBytes = 0;
  private pending: Pending[] = [];
  private flushScheduled = false;
  private writerTail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private probe = { at: 0, ok: true };
  private probing: Promise<boolean> | undefined;
  private readonly watchMs: number;
  private lastRefresh = -Infinity;
  private watcher: NodeJS.Timeout | undefined;

  constructor(options: FileStoreOptions) {
    super(options.collections, options.sharedFields);
    this.state.onListenerError = (error) => options.logger.error({ err: error }, 'ouvinte de commit falhou');
    this.watchMs = options.watchMs ?? 250;
    this.dir = options.dir;
    this.logger = options.logger;
    this.fs = { mkdir: fsp.mkdir, rm: fsp.rm, writeFile: fsp.writeFile, ...(options.fs ?? fsp) };
    this.staleMs = options.staleMs ?? 5000;
    this.lockWaitMs = options.lockWaitMs ?? 5000;
    this.checkpointMinBytes = options.checkpointMinBytes ?? 8 * 1024 * 1024;
    this.maxBatch = options.maxBatch ?? 512;
    this.lock = new DirectoryLock(this.dir, { staleMs: this.staleMs, waitMs: this.lockWaitMs, logger: this.logger });
    this.restoreLock = new DirectoryLock(this.dir, { name: RESTORE_LOCK_NAME, staleMs: this.staleMs, waitMs: 0, logger: this.logger });
  }

  // ---- paths -------------------------------------------------------------------------------------

  dataFile(collection: string): string {
    return path.join(this.dir, `${collection}.json`);
  }

  get journalFile(): string {
    return path.join(this.dir, JOURNAL_FILE);
  }

  private tempName(file: string): string {
    return `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  }

  // ---- lifecycle ---------------------------------------------------------------------------------

  /**
   * Opens the directory: under the lock (waiting out a stale one), removes temp files left by a crash,
   * creates missing files, loads everything and cuts a torn journal tail. Throws StorageCorruptError.
   */
  async open(): Promise<void> {
    await this.fs.mkdir(this.dir, { recursive: true });
    await this.withLock(async () => {
      await this.removeTempFiles();
      await this.finishRestore();
      let created = false;
      for (const collection of this.collections) {
        if (!fsSync.existsSync(this.dataFile(collection))) {
          await this.writeDataFile(collection, [], 0);
          created = true;
        }
      }
      if (!fsSync.existsSync(this.journalFile)) {
        await this.writeAtomically(this.journalFile, async () => {});
        created = true;
      }
      if (created) await this.syncDirectory();
      this.loadAll();
      await this.settleJournal(true);
    }, this.staleMs + this.lockWaitMs);
    if (this.watchMs > 0) {
      // Another process's commits reach this one's listeners (and SSE clients) within `watchMs`.
      this.watcher = setInterval(() => {
        try {
          this.refresh();
        } catch {
          // refresh() logged it; the next tick tries again.
        }
      }, this.watchMs).unref();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.watcher);
    await this.exclusive(async () => {
      if (this.journal.offset > 0) await this.withLock(() => this.checkpointLocked());
    });
    this.closed = true;
  }

  async checkpoint(): Promise<void> {
    await this.exclusive(() => this.withLock(() => this.checkpointLocked()));
  }

  /** Every committed record, read between group commits under the lock, after catching up with other processes. */
  async records(): Promise<Map<string, Entity[]>> {
    return this.exclusive(() =>
      this.withLock(async () => {
        await this.catchUpLocked();
        return this.copyRecords();
      }),
    );
  }

  /**
   * A consistent copy of the data: every data file and the journal up to its last commit, read under the
   * lock, so no transaction of any process is half in it. Reading from the page cache is quick; the lock is
   * held for as long as that takes, never for the compression of a backup.
   */
  async snapshot(): Promise<StoreSnapshot> {
    return this.exclusive(() =>
      this.withLock(async () => {
        await this.catchUpLocked();
        const files: SnapshotFile[] = [];
        for (const collection of this.collections) {
          files.push({ name: `${collection}.json`, bytes: await fsp.readFile(this.dataFile(collection)) });
        }
        // Read without blocking the event loop: after a busy day the journal can hold tens of MB. Under the
        // lock, after catching up, the file ends at the last commit (a torn tail was cut).
        const journal = await fsp.readFile(this.journalFile);
        files.push({ name: JOURNAL_FILE, bytes: journal.subarray(0, this.journal.offset) });
        const counts = Object.fromEntries(this.collections.map((c) => [c, this.count(c)]));
        return { files, counts, generation: this.generation };
      }),
    );
  }

  /**
   * Replaces every collection at once (a restore). New files are written beside the old ones, then an
   * intent file names them — the point of no return — and they are renamed into place, journal last.
   * A crash before the intent leaves the old data; after it, the next open finishes the renames.
   */
  async replaceAll(next: (current: ReadonlyMap<string, readonly Entity[]>) => Promise<ReadonlyMap<string, readonly Entity[]>>): Promise<void> {
    const endRestore = await this.restoreLock.acquire().catch((error: unknown) => {
      throw (error as { cause?: { code?: unknown } }).cause?.code === 'ELOCKED' ? restoreInProgress() : error;
    });
    try {
      await this.replaceAllUnderRestoreLock(next);
    } finally {
      await endRestore();
    }
  }

  private async replaceAllUnderRestoreLock(next: (current: ReadonlyMap<string, readonly Entity[]>) => Promise<ReadonlyMap<string, readonly Entity[]>>): Promise<void> {
    await this.exclusive(() =>
      this.withLock(async () => {
        await this.catchUpLocked();
        // Under the lock and caught up: every commit of every process is in `current`, and none can follow until
        // the renames are done.
        const records = await next(this.copyRecords());
        // `next` may take seconds (a safety backup): the lock must still be ours, or another process may have
        // committed since (it took the lock over as stale), and the restore would overwrite that.
        this.lock.assertIntact();
        const generation = this.writeGeneration + 1;
        const targets: string[] = [];
        for (const collection of this.collections) {
          const target = this.dataFile(collection);
          await this.writeDataFile(collection, [...(records.get(collection) ?? [])], generation, `${target}${RESTORE_SUFFIX}`);
          targets.push(target);
        }
        await this.writeAtomically(`${this.journalFile}${RESTORE_SUFFIX}`, async () => {});
        targets.push(this.journalFile);
        await this.syncDirectory();
        this.lock.assertIntact(); // the point of no return follows
        await this.writeAtomically(this.intentFile, async (write) => {
          await write(JSON.stringify({ files: targets.map((t) => path.basename(t)) }));
        });
        await this.syncDirectory();
        await this.finishRestore();
        this.loadAll();
      }),
    );
  }

  private get intentFile(): string {
    return path.join(this.dir, RESTORE_INTENT);
  }

  /** Rolls a recorded restore forward, or removes the files of one that never reached its intent. */
  private async finishRestore(): Promise<void> {
    if (fsSync.existsSync(this.intentFile)) {
      const intent = JSON.parse(await fsp.readFile(this.intentFile, 'utf8')) as { files: string[] };
      for (const name of intent.files) {
        const ready = path.join(this.dir, `${path.basename(name)}${RESTORE_SUFFIX}`);
        if (fsSync.existsSync(ready)) await this.fs.rename(ready, path.join(this.dir, path.basename(name)));
      }
      await this.syncDirectory();
      await this.fs.unlink(this.intentFile);
      await this.syncDirectory();
      this.logger.info('restauração concluída nos arquivos de dados');
      return;
    }
    for (const name of await fsp.readdir(this.dir)) {
      if (name.endsWith(RESTORE_SUFFIX)) await this.fs.rm(path.join(this.dir, name), { force: true });
    }
  }

  async writable(): Promise<boolean> {
    // A real write, not access(2): root passes permission checks, but not a read-only or full disk.
    // At most one probe at a time, reused for a second: concurrent health checks share it.
    if (Date.now() - this.probe.at < 1000) return this.probe.ok;
    this.probing ??= this.runProbe().finally(() => (this.probing = undefined));
    return this.probing;
  }

  private async runProbe(): Promise<boolean> {
    const probe = path.join(this.dir, `.probe.tmp-${process.pid}-00`);
    let ok = true;
    try {
      await this.fs.writeFile(probe, 'ok');
      await this.fs.unlink(probe);
    } catch {
      ok = false;
    }
    this.probe = { at: Date.now(), ok };
    return ok;
  }

  // ---- reads -------------------------------------------------------------------------------------

  refresh(): void {
    // While we hold the lock nobody else can write, and our own in-flight commit must not be re-read.
    if (this.lock.isHeld) return;
    // One request reads several repositories; one look at the journal per millisecond is enough for all.
    // (Writes never rely on this: they catch up under the lock.)
    const now = performance.now();
    if (now - this.lastRefresh < 1) return;
    this.lastRefresh = now;
    try {
      this.catchUp();
    } catch (error) {
      this.logger.error({ err: error }, 'falha ao ler alterações de outro processo');
      throw error instanceof StorageUnavailableError
        ? error
        : new StorageUnavailableError('Não foi possível ler os arquivos de dados.', error);
    }
  }

  // ---- writes ------------------------------------------------------------------------------------

  transact<R>(work: TxWork<R>): Promise<R> {
    if (this.closed) return Promise.reject(new StorageUnavailableError('O armazenamento foi fechado.'));
    return new Promise<R>((resolve, reject) => {
      // The work runs later, inside whichever request started the batch: bind it to its own request's context,
      // so what it reads from the context (the acting user, for the audit entry it stages) is its own.
      this.pending.push({ work: AsyncResource.bind(work), resolve: resolve as (value: unknown) => void, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        void this.exclusive(() => this.flush());
      }
    });
  }

  /** Serialises everything that writes files in this process. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writerTail.then(fn, fn);
    this.writerTail = run.catch(() => undefined);
    return run;
  }

  private async withLock<T>(fn: () => Promise<T>, waitMs?: number): Promise<T> {
    const release = await this.lock.acquire(waitMs);
    try {
      return await fn();
    } finally {
      await release();
    }
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    while (this.pending.length > 0) {
      let release: () => Promise<void>;
      try {
        release = await this.lock.acquire();
      } catch (error) {
        for (const p of this.pending.splice(0, this.maxBatch)) p.reject(error);
        continue;
      }
      // While more work is queued, keep the lock for the next batches (bounded, so other processes get
      // their turn): one mkdir/rmdir round trip for several group commits.
      const heldSince = performance.now();
      try {
        do {
          await this.commitBatch(this.pending.splice(0, this.maxBatch));
          // Checkpoint once the journal outgrows the data files: amortised, each write pays a constant share.
          if (this.journal.offset > Math.max(this.checkpointMinBytes, this.dataBytes)) {
            await this.checkpointLocked().catch((error: unknown) => {
              this.logger.error({ err: error }, 'checkpoint falhou; o journal continua valendo');
            });
          }
        } while (this.pending.length > 0 && performance.now() - heldSince < HOLD_LOCK_MS);
      } finally {
        await release();
      }
    }
  }

  /**
   * Group commit, under the lock: every transaction of the batch is checked in turn, then all are written
   * with one fsync.
   */
  private async commitBatch(batch: Pending[]): Promise<void> {
    const done: { p: Pending; result: unknown; changes: Change[] }[] = [];
    let processed = 0;
    try {
      await this.catchUpLocked();
      const now = Date.now();
      const entries: JournalEntry[] = [];
      for (; processed < batch.length; processed++) {
        const p = batch[processed]!;
        try {
          const { result, changes } = await this.state.run(p.work);
          done.push({ p, result, changes });
          if (changes.length > 0) entries.push({ g: this.writeGeneration, t: now, ops: toOps(changes) });
        } catch (error) {
          p.reject(error);
        }
      }
      if (entries.length > 0) {
        this.lock.assertIntact();
        await this.appendBatch(entries);
      }
      this.state.committed(done.flatMap((d) => d.changes));
      for (const d of done) d.p.resolve(d.result);
    } catch (error) {
      for (let i = done.length - 1; i >= 0; i--) this.state.undo(done[i]!.changes);
      const failure =
        error instanceof StorageUnavailableError
          ? error
          : new StorageUnavailableError('Falha ao gravar os dados em disco.', error);
      this.logger.error({ err: error }, 'falha ao gravar o journal; transações desfeitas');
      for (const d of done) d.p.reject(failure);
      for (const p of batch.slice(processed)) p.reject(failure);
    }
  }

  /** Appends one batch, its lines stamped with the offset where it begins (see `journal.ts`), and fdatasyncs it. */
  private async appendBatch(entries: JournalEntry[]): Promise<void> {
    await this.append(encodeBatch(entries, this.journal.offset));
  }

  /** Appends to the journal and fdatasyncs; on failure the journal is cut back to where it was. */
  private async append(text: string): Promise<void> {
    const bytes = Buffer.from(text, 'utf8');
    const handle = await this.fs.open(this.journalFile, 'a');
    try {
      const stat = await handle.stat();
      if (fileId(stat) !== this.journal.ino || stat.size !== this.journal.offset) {
        throw new StorageUnavailableError('O journal mudou fora da trava; escrita recusada.');
      }
      try {
        let written = 0;
        while (written < bytes.length) {
          const { bytesWritten } = await handle.write(bytes, written, bytes.length - written);
          written += bytesWritten;
        }
        await handle.datasync();
      } catch (error) {
        await handle.truncate(this.journal.offset).catch(() => undefined);
        throw error;
      }
      this.journal.offset += bytes.length;
    } finally {
      await handle.close();
    }
  }

  private get generation(): number {
    return Math.max(0, ...this.generations.values());
  }

  // ---- reading files -----------------------------------------------------------------------------

  /**
   * Makes memory match the files. Damage is an error; a torn tail is left where it is: without the lock it may
   * be a write in progress, and under it `catchUpLocked` cuts it off.
   */
  private catchUp(): void {
    // Fast path, taken by nearly every read: one stat(2) says nothing changed.
    const stat = fsSync.statSync(this.journalFile, { throwIfNoEntry: false });
    if (stat && fileId(stat) === this.journal.ino && stat.size === this.journal.offset) return;
    const journal = stat ? openJournal(this.journalFile) : undefined;
    try {
      if (!journal || journal.ino !== this.journal.ino || journal.size < this.journal.offset) {
        // Another process checkpointed (a new journal file) or data was restored: read everything again.
        this.loadAll();
      } else if (journal.size > this.journal.offset) {
        const from = this.journal.offset;
        const entries: JournalEntry[] = [];
        // Reading on from where it was, in a running process: no power cut happened in between, so a bad line
        // followed by a good one is damage here (not a torn batch).
        const decoded = decodeJournalLines(fileLines(journal.fd, from, journal.size), { from, to: journal.size }, (entry) => entries.push(entry));
        if (decoded.corruptAt !== undefined) {
          const where = `byte ${decoded.corruptAt}`;
          throw new StorageUnavailableError('O journal de dados está danificado.', new StorageCorruptError(this.journalFile, where));
        }
        const changes: Change[] = [];
        for (const entry of entries) {
          this.writeGeneration = Math.max(this.writeGeneration, entry.g);
          applyEntry(entry, this.generations, (c, id, after) => changes.push(this.state.apply(c, id, after && this.state.admit(after))));
        }
        this.journal.offset = decoded.validLength;
        this.state.committed(changes);
      }
    } finally {
      if (journal) fsSync.closeSync(journal.fd);
    }
  }

  /**
   * Under the lock: finishes a restore another process left past its point of no return, catches up with other
   * processes' commits, then settles the journal before writing after them.
   */
  private async catchUpLocked(): Promise<void> {
    if (fsSync.existsSync(this.intentFile)) {
      // Its process died after the intent (this one took the lock over as stale): what it was replacing is gone
      // for good, so nothing may be written over the old files, and no later start may roll it forward over what
      // was written since. Finished here, the files are read again below (a new journal) and listeners reset.
      this.logger.warn('restauração interrompida de outro processo encontrada sob a trava: concluída agora');
      await this.finishRestore();
    }
    const known = { ...this.journal };
    this.catchUp();
    await this.settleJournal(this.journal.ino !== known.ino || this.journal.offset !== known.offset);
  }

  /**
   * Reads every data file and the journal from scratch. A checkpoint of another process renames the data
   * files first and the journal last, so the journal is identified before the data files are read and
   * checked again after: if it was replaced in between, the read is repeated.
   */
  private loadAll(): void {
    for (let attempt = 0; attempt < 5; attempt++) {
      const before = fsSync.statSync(this.journalFile, { throwIfNoEntry: false });
      const journal = before ? openJournal(this.journalFile) : undefined;
      try {
        // Data files and journal are read as streams of lines: memory grows with the records, never with a
        // copy of a whole file (and no file size meets V8's 512 MiB string limit).
        const { maps, generations, journalLength, lastGeneration, dataBytes, droppedLines } = materializeFiles(
          (collection, keep) => loadDataFile(this.dataFile(collection), collection, keep),
          journal ? { lines: fileLines(journal.fd, 0, journal.size), length: journal.size } : { lines: () => undefined, length: 0 },
          this.journalFile,
          this.collections,
          (record) => this.state.admit(record),
        );
        const after = fsSync.statSync(this.journalFile, { throwIfNoEntry: false });
        const id = (stat: fsSync.Stats | undefined) => (stat ? fileId(stat) : '');
        if ((journal?.ino ?? '') !== id(before) || id(after) !== id(before)) continue; // replaced while we read: again
        for (const [collection, generation] of generations) this.generations.set(collection, generation);
        this.writeGeneration = lastGeneration;
        this.journal = { ino: journal?.ino ?? '', offset: journalLength };
        this.dataBytes = dataBytes;
        if (droppedLines > 0) {
          // A power cut in the middle of the last batch — or damage to a batch that was synced: it cannot tell.
          this.logger.warn({ droppedLines, at: journalLength }, 'lote final do journal danificado: linhas íntegras depois do dano descartadas');
        }
        for (const [collection, map] of maps) this.state.replace(collection, map);
        return;
      } finally {
        if (journal) fsSync.closeSync(journal.fd);
      }
    }
    throw new StorageUnavailableError('Os arquivos de dados mudaram repetidamente durante a leitura.');
  }

  /**
   * Under the lock, before anything is appended: cuts off the journal bytes after the last good line, and when this
   * process has just read lines it did not write (`readOthers`: another process's, or at open whatever is there),
   * fdatasyncs the journal. Another process syncs its batches before it lets go of the lock — unless it died holding
   * it (`kill -9`): then its last lines may be in the page cache only, and a batch of ours synced after them would
   * outlive them in a power cut, leaving a hole before an acknowledged batch (the power-loss explorer found this:
   * tests/powerloss). The sync makes what we build on durable first; it costs one `fdatasync` per lock handover
   * between processes, none for a process writing alone.
   */
  private async settleJournal(readOthers: boolean): Promise<void> {
    const stat = fsSync.statSync(this.journalFile, { throwIfNoEntry: false });
    if (!stat) return;
    const torn = stat.size > this.journal.offset;
    if (!torn && !readOthers) return;
    const handle = await this.fs.open(this.journalFile, 'r+');
    try {
      if (torn) {
        this.logger.warn({ bytes: stat.size - this.journal.offset }, 'final incompleto do journal descartado');
        await handle.truncate(this.journal.offset);
      }
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  // ---- checkpoint --------------------------------------------------------------------------------

  /**
   * Writes every collection to data files of the next generation, then starts an empty journal. Lock held,
   * between group commits.
   *
   * First, one empty journal line of the new generation is appended and fdatasync'ed. Every writer catches up
   * under the lock before writing, so whoever writes after it (this process or another) tags its lines with at
   * least that generation. If the checkpoint then stops half way (a disk error after the first data file was
   * renamed into place), no later line carries the old generation, which would be skipped behind that file.
   */
  private async checkpointLocked(): Promise<void> {
    await this.catchUpLocked();
    const next = this.writeGeneration + 1;
    this.lock.assertIntact();
    await this.appendBatch([{ g: next, t: Date.now(), ops: [] }]);
    this.writeGeneration = next;
    let dataBytes = 0;
    for (const collection of this.collections) {
      dataBytes += await this.writeDataFile(collection, Array.from(this.state.map(collection).values()), next);
      this.generations.set(collection, next);
    }
    await this.syncDirectory();
    this.lock.assertIntact();
    const ino = await this.writeAtomically(this.journalFile, async () => {});
    await this.syncDirectory();
    this.journal = { ino, offset: 0 };
    this.dataBytes = dataBytes;
    this.logger.debug({ generation: next, dataBytes }, 'checkpoint concluído');
  }

  /** Writes a data file atomically, a chunk of records at a time so the event loop keeps breathing. */
  private async writeDataFile(collection: string, records: Entity[], generation: number, target = this.dataFile(collection)): Promise<number> {
    let size = 0;
    await this.writeAtomically(target, async (write) => {
      size += await write(dataFileHeader(collection, generation));
      const CHUNK = 2000;
      for (let i = 0; i < records.length; i += CHUNK) {
        size += await write(dataFileLines(records.slice(i, i + CHUNK), i === 0));
      }
      size += await write(DATA_FILE_END);
    });
    return size;
  }

  /**
   * temp file with a unique name → write → fsync → rename over the target. Returns the new file's `fileId`. An empty file
   * (a new journal) is not synced: it has no contents to lose, and its name is made durable by the directory sync
   * that follows every call (the power-loss explorer's mutation mode found that sync catching nothing).
   */
  private async writeAtomically(file: string, fill: (write: (text: string) => Promise<number>) => Promise<void>): Promise<string> {
    const temp = this.tempName(file);
    const handle = await this.fs.open(temp, 'wx');
    try {
      let total = 0;
      await fill(async (text) => {
        const bytes = Buffer.from(text, 'utf8');
        let written = 0;
        while (written < bytes.length) {
          written += (await handle.write(bytes, written, bytes.length - written)).bytesWritten;
        }
        total += bytes.length;
        return bytes.length;
      });
      if (total > 0) await handle.sync();
      const ino = fileId(await handle.stat());
      await handle.close();
      await this.fs.rename(temp, file);
      return ino;
    } catch (error) {
      await handle.close().catch(() => undefined);
      await this.fs.unlink(temp).catch(() => undefined);
      throw new StorageUnavailableError('Falha ao gravar um arquivo de dados.', error);
    }
  }

  /** fsync of the directory, so renames and new files survive a power loss. */
  private async syncDirectory(): Promise<void> {
    const handle = await this.fs.open(this.dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  private async removeTempFiles(): Promise<void> {
    for (const name of await fsp.readdir(this.dir)) {
      if (TEMP_PATTERN.test(name)) {
        await this.fs.rm(path.join(this.dir, name), { force: true });
        this.logger.warn({ file: name }, 'arquivo temporário de uma execução anterior removido');
      }
    }
  }
}

function toOps(changes: Change[]): JournalOp[] {
  return changes.map((c) => (c.after ? ['put', c.collection, c.after] : ['del', c.collection, c.id]));
}
