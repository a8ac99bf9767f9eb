import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ZipArchive } from 'archiver';
import type { Clock } from '../core/clock.js';
import { AppError, restoreInProgress } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { formatInstant } from '../core/time.js';
import { BackupCryptoError, createEncryptStream, decryptBackup, isEncryptedBackup } from '../infra/backup-crypto.js';
import { FileCatalog } from '../infra/file-catalog.js';
import { COLLECTIONS } from '../repositories/collections.js';
import type { Entity, RecordSnapshot, StoragePort } from '../repositories/port.js';
import type { Auditor } from './audit.service.js';
import type { TaskContext } from '../infra/task-queue.js';
import { invalid } from './backup-archive.js';
import { type CheckedBackup, openBackup } from './backup-reader.js';
import { appendRecords } from './backup-writer.js';
import { BACKUP_NAME, isAutomaticName, isEncryptedName, publishBackup, stampOf } from './backup-names.js';

export { BACKUP_FORMAT, type Manifest } from './backup-archive.js';

export interface BackupInfo {
  nome: string;
  tamanhoBytes: number;
  criadoEm: string;
  automatico: boolean;
  criptografado: boolean;
}

/** What backups need of storage: a consistent export of every record, and an atomic import of them. */
export type BackupStorage = Pick<StoragePort, 'driver' | 'collections' | 'exportRecords' | 'importRecords'>;

export interface BackupServiceDeps {
  storage: BackupStorage;
  backupDir: string;
  keep: number;
  clock: Clock;
  timezone: string;
  logger: Logger;
  /** AES-256 key (32 bytes): backups are written encrypted (`.zip.enc`) and encrypted ones can be restored. */
  key?: Buffer | undefined;
  /** Most data bytes (uncompressed) a restore of a backup of records accepts; see `openBackup`. */
  maxRestoreBytes?: number;
  /** Most data bytes (uncompressed) a restore of an old-format backup (read whole) accepts. */
  maxLegacyRestoreBytes?: number;
  /** Records the restore in the audit trail (absent for the command-line restore, which has no user). */
  auditor?: Pick<Auditor, 'record'>;
}

/**
 * 4 GiB of records (uncompressed JSON lines): several times the largest data a clinic network keeps (100k consultas
 * with long notes are about 0.7 GB). A backup of records is checked and imported a line at a time, so memory does
 * not grow with this; it bounds the time a hostile archive can cost (inflated once to be hashed, about a second
 * per GiB, before anything else). A larger network passes its own `maxRestoreBytes`.
 */
export const DEFAULT_MAX_RESTORE_BYTES = 4 * 1024 * 1024 * 1024;
/**
 * 256 MiB of old-format data files: several times a large clinic's data then, under V8's 512 MiB string limit.
 * Those backups are read whole, so this bounds the memory a restore of one takes (about five times it).
 */
export const DEFAULT_MAX_LEGACY_RESTORE_BYTES = 256 * 1024 * 1024;
/** Temp and lock files (`.backup-….tmp`, `.restauracao-….tmp`, `.backup-….lock`) older than this were left by a crash. */
const STALE_TEMP_MS = 60 * 60 * 1000;

/**
 * Backups: a ZIP of every record at one consistent moment (the port's export), one JSON line per record and a
 * manifest of counts and checksums (see `backup-archive.ts`) — encrypted as a whole when a key is configured —
 * streamed to a temp file and linked to its final name only when complete, so a half-written archive is never
 * listed. The same format for every driver: a backup of one restores into the other. Restore validates
 * everything before one record changes, then imports through the port atomically, one restore at a time.
 */
export class BackupService {
  private readonly catalog: FileCatalog;
  private restoring = false;

  constructor(private readonly deps: BackupServiceDeps) {
    this.catalog = new FileCatalog(deps.backupDir, BACKUP_NAME, 'Backup', deps.timezone, stampOf);
  }

  /** True when new backups are written encrypted. */
  get encrypted(): boolean {
    return this.deps.key !== undefined;
  }

  /**
   * A backup of every record now (or of `snapshot`, which stays open: its owner closes it). `spare`: a backup the
   * pruning of old ones must not remove (the one being restored).
   */
  async create(options: { automatic: boolean }, context?: TaskContext, snapshot?: RecordSnapshot, spare?: string): Promise<BackupInfo> {
    const { backupDir, clock, timezone, logger, key } = this.deps;
    const criadoEm = formatInstant(clock.now(), timezone);
    await fsp.mkdir(backupDir, { recursive: true });
    await this.removeStaleTemps();
    // A unique temp name per attempt: concurrent backups (this process, the CLI, a safety backup) never share one.
    const temp = path.join(backupDir, `.backup-${randomUUID()}.tmp`);
    let nome: string;
    let size: number;
    let counts: Readonly<Record<string, number>>;
    try {
      counts = await this.writeArchive(temp, { criadoEm, automatico: options.automatic }, context, snapshot);
      const handle = await fsp.open(temp, 'r');
      try {
        await handle.sync(); // the archive is on disk before its name says it is complete
        size = (await handle.stat()).size; // taken now: once named, a concurrent prune may remove it
      } finally {
        await handle.close();
      }
      nome = await publishBackup(this.catalog, backupDir, temp, criadoEm, { automatic: options.automatic, encrypted: key !== undefined });
      const dir = await fsp.open(backupDir, 'r');
      await dir.sync().finally(() => dir.close());
    } catch (error) {
      await fsp.rm(temp, { force: true });
      // The disk refused (a system call's error: ENOSPC, EACCES, EIO…) or the storage cannot serve now: a 503
      // that says so. Anything else is a fault of the code and stays one (a 500, logged with its stack).
      if (isSystemCallError(error) || (error instanceof AppError && error.status === 503)) {
        throw new AppError('ARMAZENAMENTO_INDISPONIVEL', 'Não foi possível gravar o backup.', undefined, { cause: error });
      }
      throw error;
    }
    await this.prune(nome, spare);
    logger.info({ backup: nome, bytes: size, criptografado: key !== undefined, driver: this.deps.storage.driver, ...counts }, 'backup criado');
    return { nome, tamanhoBytes: size, criadoEm, automatico: options.automatic, criptografado: key !== undefined };
  }

  /**
   * Streams a ZIP of every record of one snapshot to `file` (encrypted when a key is set); returns the counts.
   * A snapshot opened here stays open only while it is written (PostgreSQL: one read-only transaction).
   */
  private async writeArchive(
    file: string,
    meta: { criadoEm: string; automatico: boolean },
    context?: TaskContext,
    given?: RecordSnapshot,
  ): Promise<Readonly<Record<string, number>>> {
    const { storage, clock, key } = this.deps;
    const snapshot = given ?? (await storage.exportRecords());
    try {
      context?.progress(20);
      const archive = new ZipArchive({ zlib: { level: 6 } });
      archive.on('progress', (p) => context?.progress(20 + (70 * p.entries.processed) / Math.max(1, p.entries.total)));
      appendRecords(archive, snapshot, storage.collections, { ...meta, driver: storage.driver }, new Date(clock.now()));
      const out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
      const written = key ? pipeline(archive, createEncryptStream(key), out) : pipeline(archive, out);
      // Only the pipeline is awaited: it fails when the archive is destroyed (a failed read of the snapshot),
      // which `finalize()`'s own promise would never report.
      archive.finalize().catch(() => undefined);
      await written;
      return snapshot.counts;
    } finally {
      if (!given) await snapshot.close();
    }
  }

  /** Newest first. */
  async list(): Promise<BackupInfo[]> {
    return (await this.catalog.list()).map((b) => ({ ...b, automatico: isAutomaticName(b.nome), criptografado: isEncryptedName(b.nome) }));
  }

  /** The path of a listed backup; 404 for anything else. */
  pathOf(nome: string): Promise<string> {
    return this.catalog.pathOf(nome);
  }

  /**
   * Restores an archive: validates manifest, checksums and every record first (422 and nothing changes if
   * anything is off), then imports the records through the port, atomically, after a safety backup of the current
   * data taken inside the import, once no process can write: every write acknowledged before the restore took hold is
   * in the safety backup, and every later one lands on the restored data. One restore at a time: a second one while
   * the first runs → 409 RESTAURACAO_EM_ANDAMENTO (two would only race to overwrite each other). Across processes,
   * PostgreSQL refuses a second import while one runs; the JSON driver's lock runs them one after the other.
   */
  async restore(file: string): Promise<{ restaurado: string; backupDeSeguranca: string; contagens: Record<string, number> }> {
    if (this.restoring) throw restoreInProgress();
    this.restoring = true;
    try {
      return await this.withBackup(file, async (backup) => {
        // The safety backup's pruning spares the backup being restored, should it be the oldest.
        const { contagens, safety } = await this.importKeepingLive(backup, path.basename(file));
        await this.deps.auditor?.record({ acao: 'backup.restaurar', recurso: 'backup', recursoId: path.basename(file), status: 200 });
        this.deps.logger.info({ backup: path.basename(file), seguranca: safety.nome, formato: backup.formatVersion, ...contagens }, 'backup restaurado');
        return { restaurado: path.basename(file), backupDeSeguranca: safety.nome, contagens };
      });
    } finally {
      this.restoring = false;
    }
  }

  /**
   * Takes the safety backup and imports the backup's records, except what a restore never rolls back: open sessions
   * (people stay signed in; a session whose user the backup does not hold simply stops working), audit entries still
   * in the outbox (they are appended by recovery), and the users themselves when the backup has none (a backup from
   * before access control must not lock everyone out). Those stay as they are in the storage.
   */
  private async importKeepingLive(backup: CheckedBackup, spare: string): Promise<{ contagens: Record<string, number>; safety: BackupInfo }> {
    const { storage } = this.deps;
    const keep = new Set<string>([COLLECTIONS.sessoes, COLLECTIONS.auditoriaPendente]);
    if ((backup.counts[COLLECTIONS.usuarios] ?? 0) === 0) keep.add(COLLECTIONS.usuarios);
    let safety: BackupInfo | undefined;
    const contagens = await storage.importRecords((collection) => backup.records(collection), {
      keep,
      beforeReplace: async (current) => {
        safety = await this.create({ automatic: false }, undefined, current, spare);
      },
    });
    // Every driver runs `beforeReplace` (the port's contract tests check it).
    return { contagens, safety: safety! };
  }

  /**
   * Reads and checks an archive, plain or encrypted; returns every record it holds, in memory (for tools and
   * tests: a restore streams them instead). Throws BACKUP_INVALIDO (422).
   */
  async validate(file: string): Promise<Map<string, Entity[]>> {
    return this.withBackup(file, async (backup) => {
      const records = new Map<string, Entity[]>();
      for (const collection of Object.keys(backup.counts)) {
        const list: Entity[] = [];
        for await (const record of backup.records(collection)) list.push(record);
        records.set(collection, list);
      }
      return records;
    });
  }

  /**
   * Runs `use` over the checked backup in `file`, plain or encrypted, and closes it afterwards. Throws
   * BACKUP_INVALIDO (422) before calling `use` if anything is off. An encrypted one is decrypted to a temp file
   * (mode 0600, removed afterwards) and read only once its GCM tag proved every byte authentic: unauthenticated
   * plaintext is never parsed.
   */
  private async withBackup<R>(file: string, use: (backup: CheckedBackup) => Promise<R>): Promise<R> {
    const { storage, key, backupDir, maxRestoreBytes = DEFAULT_MAX_RESTORE_BYTES, maxLegacyRestoreBytes = DEFAULT_MAX_LEGACY_RESTORE_BYTES } = this.deps;
    const encrypted = await isEncryptedBackup(file).catch(() => false);
    const run = async (plain: string) => {
      const backup = await openBackup(plain, storage.collections, { recordsBytes: maxRestoreBytes, legacyBytes: maxLegacyRestoreBytes });
      try {
        return await use(backup);
      } finally {
        backup.close();
      }
    };
    if (!encrypted) {
      if (isEncryptedName(file)) throw invalid('o arquivo .enc não está no formato de backup criptografado');
      return run(file);
    }
    if (!key) throw invalid('este backup é criptografado e o servidor não tem a chave (configure BACKUP_KEY com a chave usada ao criá-lo)');
    await fsp.mkdir(backupDir, { recursive: true });
    const plain = path.join(backupDir, `.restauracao-${randomUUID()}.tmp`);
    try {
      try {
        await decryptBackup(file, plain, key);
      } catch (error) {
        if (error instanceof BackupCryptoError) throw invalid(`não foi possível decifrar: ${error.message}`);
        throw error;
      }
      return await run(plain);
    } finally {
      await fsp.rm(plain, { force: true });
    }
  }

  /** Keeps the newest `keep` backups, never the one just made; a failure is logged, never thrown. */
  private async prune(justMade: string, spare?: string): Promise<void> {
    const { removed, failed } = await this.catalog.prune(this.deps.keep, [justMade, ...(spare ? [spare] : [])]).catch((error: unknown) => ({
      removed: [] as string[], failed: [{ nome: '*', error }],
    }));
    for (const nome of removed) this.deps.logger.info({ backup: nome }, 'backup antigo removido');
    for (const { nome, error } of failed) this.deps.logger.warn({ backup: nome, err: error }, 'backup antigo não removido');
  }

  /** Removes temp files a crashed backup or restore left behind (a decrypted one must not linger). */
  private async removeStaleTemps(): Promise<void> {
    const { backupDir } = this.deps;
    const names = await fsp.readdir(backupDir).catch(() => [] as string[]);
    for (const name of names.filter((n) => /^\.((backup|restauracao)-[0-9a-f-]+\.tmp|backup-\d{14}\.lock)$/.test(n))) {
      const file = path.join(backupDir, name);
      const stat = await fsp.stat(file).catch(() => undefined);
      // Wall time, not the service clock: mtimes are wall time (and tests run a fixed clock).
      if (stat && Date.now() - stat.mtimeMs > STALE_TEMP_MS) await fsp.rm(file, { force: true }).catch(() => undefined);
    }
  }
}

/** True for the error of a failed system call (it carries its `errno`), as opposed to a fault of the code. */
function isSystemCallError(error: unknown): boolean {
  return typeof (error as NodeJS.ErrnoException | null)?.errno === 'number' && typeof (error as NodeJS.ErrnoException).code === 'string';
}
