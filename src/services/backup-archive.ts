import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { AppError } from '../core/errors.js';
import { StorageCorruptError, materialize } from '../infra/storage/json/data-files.js';
import type { Entity } from '../infra/storage/json/store.js';
import { ZipReader, ZipRejected } from '../infra/zip-reader.js';
import { COLLECTIONS } from '../repositories/collections.js';
import { Consulta } from '../schemas/consulta.schema.js';
import { Bloqueio } from '../schemas/bloqueio.schema.js';
import { FeriadoRecord } from '../schemas/feriado.schema.js';
import { ListaEsperaRecordSchema } from '../schemas/lista-espera.schema.js';
import { IdempotencyRecordSchema } from '../schemas/records.schema.js';
import { Medico } from '../schemas/medico.schema.js';
import { Paciente } from '../schemas/paciente.schema.js';
import { SessaoRecordSchema, UsuarioRecordSchema } from '../schemas/usuario.schema.js';

export const BACKUP_FORMAT = 1;
export const DATA_PREFIX = 'data/';
export const MANIFEST = 'manifest.json';
/** A manifest lists a handful of files; anything bigger is not one. */
const MAX_MANIFEST_BYTES = 1024 * 1024;

/** What every stored record must look like; a backup with one record off is refused whole. */
const RECORD_SCHEMAS: Record<string, z.ZodType> = {
  [COLLECTIONS.medicos]: Medico,
  [COLLECTIONS.pacientes]: Paciente,
  [COLLECTIONS.consultas]: Consulta,
  [COLLECTIONS.idempotencia]: IdempotencyRecordSchema,
  // Users decide who may do what: a backup must not smuggle in a malformed account.
  [COLLECTIONS.usuarios]: UsuarioRecordSchema,
  [COLLECTIONS.sessoes]: SessaoRecordSchema,
  [COLLECTIONS.bloqueios]: Bloqueio,
  [COLLECTIONS.feriados]: FeriadoRecord,
  [COLLECTIONS.listaEspera]: ListaEsperaRecordSchema,
};

export interface Manifest {
  formatVersion: number;
  criadoEm: string;
  automatico: boolean;
  contagens: Record<string, number>;
  arquivos: { nome: string; bytes: number; sha256: string }[];
}

export const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

export const invalid = (detail: string): AppError => new AppError('BACKUP_INVALIDO', `Backup recusado: ${detail}.`);

/**
 * Reads and checks a plain (decrypted) backup ZIP; returns the records it holds. Throws BACKUP_INVALIDO.
 *
 * Memory, the bound a restore keeps:
 * 1. the central directory (≤ 64 entries) and the manifest (≤ 1 MiB);
 * 2. a first pass inflates each data entry only to count and hash it, holding no bytes (one inflate stream,
 *    a few hundred kB), and stops as soon as an entry passes the size its manifest declares — so a bomb
 *    is refused after at most `maxBytes` (the sum the manifest may declare) bytes came out;
 * 3. only an archive whose every entry matched its manifest is read into memory: at most `maxBytes` of
 *    file bytes, then parsed into records (roughly 2–4× those bytes as objects — the same the store holds
 *    once the data is live).
 * So the peak is about `maxBytes` × 5 for a genuine backup at the cap, and a few MB for anything refused
 * in steps 1–2, whatever the archive claims.
 */
export async function readBackupArchive(
  file: string,
  collections: readonly string[],
  maxBytes: number,
): Promise<Map<string, Entity[]>> {
  const names = new Set([MANIFEST, ...collections.map((c) => `${DATA_PREFIX}${c}.json`), `${DATA_PREFIX}journal.wal`]);
  let files: Map<string, Buffer>;
  let manifest: Manifest;
  let zip: ZipReader | undefined;
  try {
    zip = await ZipReader.open(file, { maxEntries: 64, allowed: (n) => names.has(n) });
    if (!zip.has(MANIFEST)) throw invalid(`${MANIFEST} ausente`);
    manifest = parseManifest(await zip.read(MANIFEST, MAX_MANIFEST_BYTES));
    const listed = new Set(manifest.arquivos.map((a) => a.nome));
    for (const name of zip.names()) {
      if (name !== MANIFEST && !listed.has(name)) throw invalid(`${name} não consta do manifesto`);
    }
    const declared = manifest.arquivos.reduce((sum, a) => sum + a.bytes, 0);
    if (declared > maxBytes) throw invalid(`o conteúdo declarado (${declared} bytes) passa do limite de ${maxBytes} bytes`);
    for (const item of manifest.arquivos) {
      if (!zip.has(item.nome)) throw invalid(`o manifesto lista ${item.nome}, que não está no arquivo`);
      const seen = await zip.digest(item.nome, item.bytes);
      if (seen.bytes !== item.bytes || seen.sha256 !== item.sha256) throw invalid(`soma SHA-256 de ${item.nome} não confere`);
    }
    files = new Map();
    for (const item of manifest.arquivos) {
      const bytes = await zip.read(item.nome, item.bytes);
      // Checked again: the file could have changed between the passes.
      if (bytes.length !== item.bytes || sha256(bytes) !== item.sha256) throw invalid(`soma SHA-256 de ${item.nome} não confere`);
      files.set(item.nome.slice(DATA_PREFIX.length), bytes);
    }
  } catch (error) {
    if (error instanceof ZipRejected) throw invalid(error.message);
    throw error;
  } finally {
    zip?.close();
  }
  return toRecords(files, collections, manifest);
}

function toRecords(files: Map<string, Buffer>, collections: readonly string[], manifest: Manifest): Map<string, Entity[]> {
  let maps: Map<string, Map<string, Entity>>;
  try {
    maps = materialize(files, collections);
  } catch (error) {
    if (error instanceof StorageCorruptError) throw invalid(error.message);
    if (error instanceof RangeError) throw invalid('um arquivo de dados é grande demais para ser lido');
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

function parseManifest(bytes: Buffer): Manifest {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(bytes.toString('utf8')) as Manifest;
  } catch {
    throw invalid(`${MANIFEST} não é JSON válido`);
  }
  if (manifest?.formatVersion !== BACKUP_FORMAT) throw invalid(`versão de formato desconhecida (${String(manifest?.formatVersion)})`);
  if (!Array.isArray(manifest.arquivos) || typeof manifest.contagens !== 'object' || manifest.contagens === null) {
    throw invalid('manifesto incompleto');
  }
  const seen = new Set<string>();
  for (const a of manifest.arquivos) {
    if (typeof a?.nome !== 'string' || typeof a.sha256 !== 'string' || !Number.isSafeInteger(a.bytes) || a.bytes < 0) throw invalid('manifesto incompleto');
    if (!a.nome.startsWith(DATA_PREFIX) || seen.has(a.nome)) throw invalid(`entrada inválida no manifesto: ${JSON.stringify(a.nome)}`);
    seen.add(a.nome);
  }
  return manifest;
}
