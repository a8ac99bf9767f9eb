import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { ZipArchive } from 'archiver';
import type { z } from 'zod';
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { FileCatalog } from '../infra/file-catalog.js';
import type { Logger } from '../core/logger.js';
import { formatInstant } from '../core/time.js';
import { StorageCorruptError, materialize } from '../infra/storage/data-files.js';
import type { Entity, Store } from '../infra/storage/store.js';
import type { TaskContext } from '../infra/task-queue.js';
import { ZipRejected, readZip } from '../infra/zip-reader.js';
import { COLLECTIONS } from '../repositories/collections.js';
import { Consulta } from '../schemas/consulta.schema.js';
import { IdempotencyRecordSchema } from '../schemas/records.schema.js';
import { Medico } from '../schemas/medico.schema.js';
import { Paciente } from '../schemas/paciente.schema.js';

export const BACKUP_FORMAT = 1;
const NAME = /^backup-(\d{8})-(\d{6})(-auto)?\.zip$/;
const DATA_PREFIX = 'data/';

/** What every stored record must look like; a backup with one record off is refused whole. */
const RECORD_SCHEMAS: Record<string, z.ZodType> = {
  [COLLECTIONS.medicos]: Medico,
  [COLLECTIONS.pacientes]: Paciente,
  [COLLECTIONS.consultas]: Consulta,
  [COLLECTIONS.idempotencia]: IdempotencyRecordSchema,
};

export interface BackupInfo {
  nome: string;
  tamanhoBytes: number;
  criadoEm: string;
  automatico: boolean;
}

export interface Manifest {
  formatVersion: number;
  criadoEm: string;
  automatico: boolean;
  contagens: Record<string, number>;
  arquivos: { nome: string; bytes: number; sha256: string }[];
}

export interface BackupServiceDeps {
  store: Store;
  backupDir: string;
  keep: number;
  clock: Clock;
  timezone: string;
  logger: Logger;
  /** Largest archive content a restore accepts (bytes, uncompressed). */
  maxRestoreBytes?: number;
}

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/**
 * Backups: a ZIP of a consistent snapshot of the data directory (taken under the storage lock) with a
 * manifest of counts and checksums, written to a temp name and renamed when complete, so a half-written
 * archive is never listed. Restore validates everything before one byte of the data changes.
 */
export class BackupService {
  private readonly catalog: FileCatalog;

  constructor(private readonly deps: BackupServiceDeps) {
    this.catalog = new FileCatalog(deps.backupDir, NAME, 'Backup', deps.timezone);
  }

  async create(options: { automatic: boolean }, context?: TaskContext): Promise<BackupInfo> {
    const { store, backupDir, clock, timezone, logger } = this.deps;
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
    const nome = await this.freeName(criadoEm, options.automatic);
    const final = path.join(backupDir, nome);
    const temp = path.join(backupDir, `.${nome}.tmp-${process.pid}`);
    try {
      const archive = new ZipArchive({ zlib: { level: 6 } });
      const out = createWriteStream(temp);
      const closed = once(out, 'close');
      archive.on('progress', (p) => context?.progress(20 + (70 * p.entries.processed) / Math.max(1, p.entries.total)));
      archive.pipe(out);
      const date = new Date(clock.now());
      for (const file of snapshot.files) archive.append(file.bytes, { name: DATA_PREFIX + file.name, date });
      archive.append(`${JSON.stringify(manifest, null, 2)}\n`, { name: 'manifest.json', date });
      await archive.finalize();
      await closed;
      const handle = await fsp.open(temp, 'r');
      await handle.sync(); // the archive is on disk before its name says it is complete
      await handle.close();
      await fsp.rename(temp, final);
      const dir = await fsp.open(backupDir, 'r');
      await dir.sync();
      await dir.close();
    } catch (error) {
      await fsp.rm(temp, { force: true });
      throw new AppError('ARMAZENAMENTO_INDISPONIVEL', 'Não foi possível gravar o backup.', undefined, { cause: error });
    }
    await this.prune();
    const { size } = await fsp.stat(final);
    logger.info({ backup: nome, bytes: size, ...snapshot.counts }, 'backup criado');
    return { nome, tamanhoBytes: size, criadoEm, automatico: options.automatic };
  }

  /** Newest first. */
  async list(): Promise<BackupInfo[]> {
    return (await this.catalog.list()).map((b) => ({ ...b, automatico: b.nome.endsWith('-auto.zip') }));
  }

  /** The path of a listed backup; 404 for anything else. */
  pathOf(nome: string): Promise<string> {
    return this.catalog.pathOf(nome);
  }

  /**
   * Restores an archive: validates manifest, checksums and every record first (422 and nothing changes if
   * anything is off), takes a safety backup of the current data, then swaps the data in atomically.
   */
  async restore(file: string): Promise<{ restaurado: string; backupDeSeguranca: string; contagens: Record<string, number> }> {
    const records = await this.validate(file);
    const safety = await this.create({ automatic: false });
    await this.deps.store.replaceAll(records);
    const contagens = Object.fromEntries([...records].map(([c, list]) => [c, list.length]));
    this.deps.logger.info({ backup: path.basename(file), seguranca: safety.nome, ...contagens }, 'backup restaurado');
    return { restaurado: path.basename(file), backupDeSeguranca: safety.nome, contagens };
  }

  /** Reads and checks an archive; returns the records it holds. Throws BACKUP_INVALIDO (422). */
  async validate(file: string): Promise<Map<string, Entity[]>> {
    const { store, maxRestoreBytes = 1024 * 1024 * 1024 } = this.deps;
    const names = new Set(['manifest.json', ...store.collections.map((c) => `${DATA_PREFIX}${c}.json`), `${DATA_PREFIX}journal.wal`]);
    let entries: Map<string, Buffer>;
    try {
      entries = await readZip(file, { maxEntries: 64, maxEntryBytes: maxRestoreBytes, maxTotalBytes: maxRestoreBytes, allowed: (n) => names.has(n) });
    } catch (error) {
      if (error instanceof ZipRejected) throw invalid(error.message);
      throw error;
    }
    const manifest = parseManifest(entries.get('manifest.json'));
    const listed = new Set(manifest.arquivos.map((a) => a.nome));
    for (const name of entries.keys()) {
      if (name !== 'manifest.json' && !listed.has(name)) throw invalid(`${name} não consta do manifesto`);
    }
    const files = new Map<string, Buffer>();
    for (const item of manifest.arquivos) {
      const bytes = entries.get(item.nome);
      if (!bytes) throw invalid(`o manifesto lista ${item.nome}, que não está no arquivo`);
      if (bytes.length !== item.bytes || sha256(bytes) !== item.sha256) throw invalid(`soma SHA-256 de ${item.nome} não confere`);
      files.set(item.nome.slice(DATA_PREFIX.length), bytes);
    }
    let maps: Map<string, Map<string, Entity>>;
    try {
      maps = materialize(files, store.collections);
    } catch (error) {
      if (error instanceof StorageCorruptError) throw invalid(error.message);
      throw error;
    }
    const records = new Map<string, Entity[]>();
    for (const [collection, map] of maps) {
      const schema = RECORD_SCHEMAS[collection];
      const list = [...map.values()];
      list.forEach((record, i) => {
        const result = schema ? schema.safeParse(record) : { success: true as const };
        if (!result.success) throw invalid(`registro ${i} de ${collection} fora do esquema: ${result.error.issues[0]?.path.join('.')} ${result.error.issues[0]?.message}`);
      });
      if (manifest.contagens[collection] !== undefined && manifest.contagens[collection] !== list.length) {
        throw invalid(`o manifesto diz ${manifest.contagens[collection]} registros de ${collection}, o arquivo tem ${list.length}`);
      }
      records.set(collection, list);
    }
    return records;
  }

  /** Keeps the newest `keep` backups. */
  private async prune(): Promise<void> {
    const all = await this.list();
    for (const old of all.slice(this.deps.keep)) {
      await fsp.rm(path.join(this.deps.backupDir, old.nome), { force: true });
      this.deps.logger.info({ backup: old.nome }, 'backup antigo removido');
    }
  }

  /** `backup-YYYYMMDD-HHmmss[-auto].zip` in the clinic's time; a taken second moves to the next one. */
  private async freeName(criadoEm: string, automatic: boolean): Promise<string> {
    let ms = Date.parse(criadoEm);
    for (;;) {
      const local = formatInstant(ms, this.deps.timezone);
      const nome = `backup-${local.slice(0, 10).replaceAll('-', '')}-${local.slice(11, 19).replaceAll(':', '')}${automatic ? '-auto' : ''}.zip`;
      if (!(await this.catalog.exists(nome))) return nome;
      ms += 1000;
    }
  }
}

const invalid = (detail: string) => new AppError('BACKUP_INVALIDO', `Backup recusado: ${detail}.`);

function parseManifest(bytes: Buffer | undefined): Manifest {
  if (!bytes) throw invalid('manifest.json ausente');
  let manifest: Manifest;
  try {
    manifest = JSON.parse(bytes.toString('utf8')) as Manifest;
  } catch {
    throw invalid('manifest.json não é JSON válido');
  }
  if (manifest?.formatVersion !== BACKUP_FORMAT) throw invalid(`versão de formato desconhecida (${String(manifest?.formatVersion)})`);
  if (!Array.isArray(manifest.arquivos) || typeof manifest.contagens !== 'object' || manifest.contagens === null) {
    throw invalid('manifesto incompleto');
  }
  for (const a of manifest.arquivos) {
    if (typeof a?.nome !== 'string' || typeof a.sha256 !== 'string' || typeof a.bytes !== 'number') throw invalid('manifesto incompleto');
  }
  return manifest;
}
