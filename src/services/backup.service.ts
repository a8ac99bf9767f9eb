import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ZipArchive } from 'archiver';
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { formatInstant } from '../core/time.js';
import { BackupCryptoError, createEncryptStream, decryptBackup, isEncryptedBackup } from '../infra/backup-crypto.js';
import { FileCatalog } from '../infra/file-catalog.js';
import { COLLECTIONS } from '../repositories/collections.js';
import type { Auditor } from './audit.service.js';
import type { Entity, Store } from '../infra/storage/json/store.js';
import type { TaskContext } from '../infra/task-queue.js';
import { BACKUP_FORMAT, DATA_PREFIX, MANIFEST, type Manifest, invalid, readBackupArchive, sha256 } from './backup-archive.js';
import { BACKUP_NAME, isAutomaticName, isEncryptedName, publishBackup, stampOf } from './backup-names.js';

export { BACKUP_FORMAT, type Manifest } from './backup-archive.js';

export interface BackupInfo {
  nome: string;
  tamanhoBytes: number;
  criadoEm: string;
  automatico: boolean;
  criptografado: boolean;
}

export interface BackupServiceDeps {
  store: Store;
  backupDir: string;
  keep: number;
  clock: Clock;
  timezone: string;
  logger: Logger;
  /** AES-256 key (32 bytes): backups are written encrypted (`.zip.enc`) and encrypted ones can be restored. */
  key?: Buffer | undefined;
  /** Most data bytes (uncompressed) a restore accepts; see `readBackupArchive` for the memory this bounds. */
  maxRestoreBytes?: number;
  /** Records the restore in the audit trail (absent for the command-line restore, which has no user). */
  auditor?: Pick<Auditor, 'record'>;
}

/** 256 MiB of data files: several times a large clinic's data, well under V8's 512 MiB string limit. */
export const DEFAULT_MAX_RESTORE_BYTES = 256 * 1024 * 1024;
/** Temp and lock files (`.backup-….tmp`, `.restauracao-….tmp`, `.backup-….lock`) older than this were left by a crash. */
const STALE_TEMP_MS = 60 * 60 * 1000;

/**
 * Backups: a ZIP of a consistent snapshot of the data directory (taken under the storage lock) with a
 * manifest of counts and checksums — encrypted as a whole when a key is configured — written to a temp file
 * and linked to its final name only when complete, so a half-written archive is never listed. Restore
 * validates everything before one byte of the data changes, one restore at a time.
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

  async create(options: { automatic: boolean }, context?: TaskContext): Promise<BackupInfo> {
    const { store, backupDir, clock, timezone, logger, key } = this.deps;
    const snapshot = await store.snapshot();
    context?.progress(20);
    const criadoEm = formatInstant(clock.now(), timezone);
    const manifest: Manifest = {
      formatVersion: BACKUP_FORMAT,
      criadoEm,
      automatico: options.automatic,
      contagens: snapshot.counts,
      arquivos: snapshot.files.map((f) => ({ nome: DATA_PREFIX + f.name, bytes: f.bytes.length, sha256: sha256(f.bytes) })),
    };
    await fsp.mkdir(backupDir, { recursive: true });
    await this.removeStaleTemps();
    // A unique temp name per attempt: concurrent backups (this process, the CLI, a safety backup) never share one.
    const temp = path.join(backupDir, `.backup-${randomUUID()}.tmp`);
    let nome: string;
    let size: number;
    try {
      const archive = new ZipArchive({ zlib: { level: 6 } });
      archive.on('progress', (p) => context?.progress(20 + (70 * p.entries.processed) / Math.max(1, p.entries.total)));
      const date = new Date(clock.now());
      for (const file of snapshot.files) archive.append(file.bytes, { name: DATA_PREFIX + file.name, date });
      archive.append(`${JSON.stringify(manifest, null, 2)}\n`, { name: MANIFEST, date });
      const out = createWriteStream(temp, { flags: 'wx', mode: 0o600 });
      const written = key ? pipeline(archive, createEncryptStream(key), out) : pipeline(archive, out);
      await Promise.all([archive.finalize(), written]);
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
      throw new AppError('ARMAZENAMENTO_INDISPONIVEL', 'Não foi possível gravar o backup.', undefined, { cause: error });
    }
    await this.prune(nome);
    logger.info({ backup: nome, bytes: size, criptografado: key !== undefined, ...snapshot.counts }, 'backup criado');
    return { nome, tamanhoBytes: size, criadoEm, automatico: options.automatic, criptografado: key !== undefined };
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
   * anything is off), takes a safety backup of the current data, then swaps the data in atomically.
   * One restore at a time: a second one while the first runs → 409 RESTAURACAO_EM_ANDAMENTO (two would
   * only race to overwrite each other, and each may hold up to `maxRestoreBytes` of data in memory).
   */
  async restore(file: string): Promise<{ restaurado: string; backupDeSeguranca: string; contagens: Record<string, number> }> {
    if (this.restoring) throw new AppError('RESTAURACAO_EM_ANDAMENTO', 'Já há uma restauração em andamento; aguarde o fim dela.');
    this.restoring = true;
    try {
      const records = await this.validate(file);
      this.keepLiveRecords(records);
      const safety = await this.create({ automatic: false });
      await this.deps.store.replaceAll(records);
      const contagens = Object.fromEntries([...records].map(([c, list]) => [c, list.length]));
      await this.deps.auditor?.record({ acao: 'backup.restaurar', recurso: 'backup', recursoId: path.basename(file), status: 200 });
      this.deps.logger.info({ backup: path.basename(file), seguranca: safety.nome, ...contagens }, 'backup restaurado');
      return { restaurado: path.basename(file), backupDeSeguranca: safety.nome, contagens };
    } finally {
      this.restoring = false;
    }
  }

  /**
   * What a restore never rolls back: open sessions (people stay signed in; a session whose user the backup does
   * not hold simply stops working), audit entries still in the outbox (they are appended by recovery), and the
   * users themselves when the backup has none (a backup from before access control must not lock everyone out).
   */
  private keepLiveRecords(records: Map<string, Entity[]>): void {
    const { store } = this.deps;
    const keep = (collection: string) => {
      if (store.collections.includes(collection)) records.set(collection, [...store.values<Entity>(collection)]);
    };
    keep(COLLECTIONS.sessoes);
    keep(COLLECTIONS.auditoriaPendente);
    if ((records.get(COLLECTIONS.usuarios) ?? []).length === 0) keep(COLLECTIONS.usuarios);
  }

  /**
   * Reads and checks an archive, plain or encrypted; returns the records it holds. Throws BACKUP_INVALIDO (422).
   * An encrypted one is decrypted to a temp file (mode 0600, removed afterwards) and read only once its GCM
   * tag proved every byte authentic: unauthenticated plaintext is never parsed.
   */
  async validate(file: string): Promise<Map<string, Entity[]>> {
    const { store, key, backupDir, maxRestoreBytes = DEFAULT_MAX_RESTORE_BYTES } = this.deps;
    const encrypted = await isEncryptedBackup(file).catch(() => false);
    if (!encrypted) {
      if (isEncryptedName(file)) throw invalid('o arquivo .enc não está no formato de backup criptografado');
      return readBackupArchive(file, store.collections, maxRestoreBytes);
    }
    if (!key) throw invalid('este backup é criptografado e o servidor não tem a chave (configure BACKUP_KEY com a chave usada ao criá-lo)');
    await fsp.mkdir(backupDir, { recursive: true });
    const plain = path.join(backupDir, `.restauracao-${randomUUID()}.tmp`);
    try {
      await decryptBackup(file, plain, key);
      return await readBackupArchive(plain, store.collections, maxRestoreBytes);
    } catch (error) {
      if (error instanceof BackupCryptoError) throw invalid(`não foi possível decifrar: ${error.message}`);
      throw error;
    } finally {
      await fsp.rm(plain, { force: true });
    }
  }

  /** Keeps the newest `keep` backups, never the one just made; a failure is logged, never thrown. */
  private async prune(justMade: string): Promise<void> {
    const { removed, failed } = await this.catalog.prune(this.deps.keep, justMade).catch((error: unknown) => ({
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
