import { createHash } from 'node:crypto';
import { AppError } from '../core/errors.js';
import { COLLECTIONS } from '../repositories/collections.js';
import type { ConsultaRecord, DriverName, Entity } from '../repositories/port.js';
import { holdsSlot, isPendente } from '../domain/consulta-status.js';
import { Bloqueio } from '../schemas/bloqueio.schema.js';
import { ANO_MAX, ANO_MIN, yearInRange, z } from '../schemas/common.js';
import { Consulta } from '../schemas/consulta.schema.js';
import { FeriadoRecord } from '../schemas/feriado.schema.js';
import { ListaEsperaRecordSchema } from '../schemas/lista-espera.schema.js';
import { Medico } from '../schemas/medico.schema.js';
import { Paciente } from '../schemas/paciente.schema.js';
import { IdempotencyRecordSchema } from '../schemas/records.schema.js';
import { EmailUsuario, SessaoRecordSchema, UsuarioRecordSchema } from '../schemas/usuario.schema.js';
import { isUsableHash } from '../infra/password.js';

/**
 * The backup ZIP, format 2 (both drivers write it, either restores it):
 *
 * - `data/<collection>.jsonl`: every record of the collection, one JSON object per line, in id order — one entry
 *   per collection of the storage it came from, empty ones included;
 * - `manifest.json`: format version, when, which driver, records per collection, and per entry its byte count,
 *   SHA-256 and number of records.
 *
 * Format 1 (until issue 12) held the JSON driver's files instead (`data/<collection>.json` and `data/journal.wal`);
 * clinics keep such backups, so they still restore (see `backup-legacy.ts`). Encryption (`backup-crypto.ts`) wraps
 * the whole ZIP in either format.
 */
export const BACKUP_FORMAT = 2;
export const LEGACY_FORMAT = 1;
export const DATA_PREFIX = 'data/';
export const MANIFEST = 'manifest.json';
/** Format 1's journal entry. */
export const LEGACY_JOURNAL = `${DATA_PREFIX}journal.wal`;

/** The entry of a collection in format 2. */
export const recordsEntry = (collection: string): string => `${DATA_PREFIX}${collection}.jsonl`;
/** The entry of a collection in format 1. */
export const legacyEntry = (collection: string): string => `${DATA_PREFIX}${collection}.json`;

/**
 * The longest line (one record) a restore accepts. The longest real record is a consulta or paciente with every
 * text field at its limit, a few tens of kB; the cap keeps one hostile line from costing more than this.
 */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;
/** A manifest lists a handful of entries; anything bigger is not one. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;

/** What every stored record must look like; a backup with one record off is refused whole. */
const RECORD_SCHEMAS: Record<string, z.ZodType> = {
  [COLLECTIONS.medicos]: Medico,
  [COLLECTIONS.pacientes]: Paciente,
  [COLLECTIONS.consultas]: Consulta,
  [COLLECTIONS.idempotencia]: IdempotencyRecordSchema,
  // Users decide who may do what: a backup must not smuggle in a malformed account, nor a password hash that a
  // sign-in could not compute, or only at a cost of seconds and gigabytes (`isUsableHash`).
  [COLLECTIONS.usuarios]: UsuarioRecordSchema.extend({
    // As the API keeps it: an address, in lower case (sign-in looks it up so; "" signed in with an empty e-mail).
    email: z.string().refine((e) => e === e.toLowerCase() && EmailUsuario.safeParse(e).success, 'e-mail inválido ou com maiúsculas'),
  }).refine((u) => isUsableHash(u.senhaHash), {
    path: ['senhaHash'],
    message: 'hash de senha em formato desconhecido ou com custo fora dos limites',
  }),
  [COLLECTIONS.sessoes]: SessaoRecordSchema,
  [COLLECTIONS.bloqueios]: Bloqueio,
  [COLLECTIONS.feriados]: FeriadoRecord,
  [COLLECTIONS.listaEspera]: ListaEsperaRecordSchema,
};

/** One collection's entry in a format 2 manifest. */
export interface ManifestEntry {
  nome: string;
  colecao: string;
  registros: number;
  bytes: number;
  sha256: string;
}

export interface Manifest {
  formatVersion: typeof BACKUP_FORMAT;
  criadoEm: string;
  automatico: boolean;
  /** The storage driver the records came from (informative: every driver restores every backup). */
  driver: DriverName;
  contagens: Record<string, number>;
  arquivos: ManifestEntry[];
}

/** Format 1's manifest: the driver's files with their sizes and checksums. */
export interface LegacyManifest {
  formatVersion: typeof LEGACY_FORMAT;
  criadoEm: string;
  automatico: boolean;
  contagens: Record<string, number>;
  arquivos: { nome: string; bytes: number; sha256: string }[];
}

export const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

export const invalid = (detail: string, cause?: unknown): AppError => new AppError('BACKUP_INVALIDO', `Backup recusado: ${detail}.`, undefined, cause === undefined ? undefined : { cause });

/**
 * What a restore must not break across records, checked as they stream past:
 * - when the backup holds users (one without any keeps the live ones), one of them is an active admin. The API
 *   refuses to remove the last one, and a restore without one would leave nobody able to reach users, backups or
 *   restore again;
 * - no two pacientes share a CPF (anonymised ones keep none), no two médicos a CRM, no two users an e-mail. The API
 *   refuses each, and PostgreSQL's UNIQUE constraints refuse them too; the JSON driver took them, and then one of two
 *   users with one e-mail could never sign in. Now both drivers refuse the backup, with the same words;
 * - no two consultas still to happen (`isPendente`) that hold a slot (`holdsSlot`) overlap for one médico, nor two
 *   pendentes for one paciente. The JSON driver took them, and its agenda then showed one of the two, and freed the
 *   slot when that one was cancelled while the other still held it. Overlaps with a consulta already `realizada` or
 *   `faltou` are let through: v1 freed those slots (its conflict check counted only `agendada`), so a clinic's own
 *   data may hold them, and they change nothing still to come. PostgreSQL's exclusion constraints count them too: such
 *   a backup restores into the JSON driver only, and PostgreSQL refuses it naming the constraint, as before.
 *
 * References are not checked: data written by earlier versions may hold consultas of a médico or paciente since
 * deleted (the delete guard once looked only at future bookings), and a médico deleted with no consultas leaves his
 * bloqueios and his user's link. The app answers such a reference as the record not found.
 */
export class BackupIntegrity {
  private usuarios = 0;
  private admins = 0;
  /** Each unique field's values seen so far, with the id of the record that had it. */
  private readonly taken = new Map<string, Map<string, string>>();
  /** The times of consultas still to happen, by médico (slot holders only) and by paciente, checked for overlaps at the end. */
  private readonly held = { medico: new Map<string, HeldTime[]>(), paciente: new Map<string, HeldTime[]>() };

  see(collection: string, record: Entity): void {
    const unique = UNIQUE_FIELDS[collection];
    if (unique) this.claim(collection, unique, record);
    if (collection === COLLECTIONS.consultas) this.hold(record as unknown as ConsultaRecord);
    if (collection !== COLLECTIONS.usuarios) return;
    const r = record as Entity & { papel?: unknown; ativo?: unknown };
    this.usuarios++;
    if (r.papel === 'admin' && r.ativo === true) this.admins++;
  }

  private claim(collection: string, { field, what, key }: UniqueField, record: Entity): void {
    const value = key((record as unknown as Record<string, unknown>)[field]);
    if (value === undefined) return;
    let seen = this.taken.get(collection);
    if (!seen) this.taken.set(collection, (seen = new Map()));
    const holder = seen.get(value);
    if (holder !== undefined) throw invalid(`os registros ${holder} e ${record.id} de ${collection} têm ${what}`);
    seen.set(value, record.id);
  }

  private hold(c: ConsultaRecord): void {
    if (!isPendente(c.status)) return;
    const time: HeldTime = { id: c.id, from: Date.parse(c.inicio), to: Date.parse(c.fim) };
    const add = (byKey: Map<string, HeldTime[]>, key: string) => {
      const list = byKey.get(key);
      if (list) list.push(time);
      else byKey.set(key, [time]);
    };
    if (holdsSlot(c)) add(this.held.medico, c.medicoId);
    add(this.held.paciente, c.pacienteId);
  }

  /** Throws BACKUP_INVALIDO when a rule is broken. */
  check(): void {
    if (this.usuarios > 0 && this.admins === 0) throw invalid('nenhum dos usuários do backup é um administrador ativo; restaurá-lo deixaria a clínica sem acesso à administração');
    for (const [byKey, whose] of [[this.held.medico, 'ocupam o mesmo horário de um médico'], [this.held.paciente, 'são pendentes do mesmo paciente ao mesmo tempo']] as const) {
      for (const list of byKey.values()) {
        list.sort((a, b) => a.from - b.from);
        // Sorted by start, an overlap shows between a consulta and the one that ends last among those before it.
        let last = list[0]!;
        for (const next of list.slice(1)) {
          if (next.from < last.to) throw invalid(`as consultas ${last.id} e ${next.id} ${whose}`);
          if (next.to > last.to) last = next;
        }
      }
    }
  }
}

/** A consulta's time, as the overlap check keeps it. */
interface HeldTime {
  id: string;
  from: number;
  to: number;
}

interface UniqueField {
  field: string;
  /** What the two records share, as the refusal says it (never the value: a CPF or an e-mail is personal data). */
  what: string;
  /** The value compared, or undefined when it claims nothing. */
  key: (value: unknown) => string | undefined;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/**
 * The fields the API and PostgreSQL keep unique, compared as stored (user e-mails are in lower case: their schema above).
 * Only an anonymised paciente's CPF ('') claims nothing: PostgreSQL stores it as NULL (migration 0009).
 */
const UNIQUE_FIELDS: Record<string, UniqueField> = {
  [COLLECTIONS.pacientes]: { field: 'cpf', what: 'o mesmo CPF', key: (value) => (value === '' ? undefined : text(value)) },
  [COLLECTIONS.medicos]: { field: 'crm', what: 'o mesmo CRM', key: text },
  [COLLECTIONS.usuarios]: { field: 'email', what: 'o mesmo e-mail', key: text },
};

/**
 * The fields of each collection that both drivers read as a point in time (PostgreSQL stores them in `timestamptz` or
 * `date` columns, the JSON driver compares them by `Date.parse`): ISO 8601 with an offset (or a date), in the years
 * the API accepts. An instant written another way, or in year 275760, would be read differently by the two drivers,
 * or not stored at all.
 */
const TIME_FIELDS: Readonly<Record<string, readonly { field: string; date?: true | 'or instant' }[]>> = {
  [COLLECTIONS.consultas]: [{ field: 'inicio' }, { field: 'fim' }],
  [COLLECTIONS.bloqueios]: [{ field: 'inicio' }, { field: 'fim' }],
  // A waiting list's bounds are a date (the whole day) or an instant, as the API takes them.
  [COLLECTIONS.listaEspera]: [{ field: 'criadaEm' }, { field: 'de', date: 'or instant' }, { field: 'ate', date: 'or instant' }],
  [COLLECTIONS.sessoes]: [{ field: 'criadaEm' }],
  [COLLECTIONS.feriados]: [{ field: 'data', date: true }],
  // Anonymising keeps only its year: "not-a-date" became "not--01-01".
  [COLLECTIONS.pacientes]: [{ field: 'dataNascimento', date: true }],
};
/**
 * Hours below 24, minutes and seconds below 60, offsets within ±15:59 (what PostgreSQL's timestamptz reads), and at
 * most milliseconds, as the API writes them: the app compares instants in milliseconds and PostgreSQL in
 * microseconds, so two consultas 0.4 ms apart would be apart for one and overlapping for the other.
 */
const ISO_INSTANT = /^(\d{4}-\d{2}-\d{2})T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,3})?)?(Z|[+-](0\d|1[0-5]):[0-5]\d)$/;
const ISO_DATE = /^(\d{4}-\d{2}-\d{2})$/;
/** A day the calendar has (`Date.parse` would take 2026-02-30 as 2 March). */
const realDay = (day: string): boolean => {
  const ms = Date.parse(`${day}T00:00:00Z`);
  return Number.isFinite(ms) && new Date(ms).toISOString().startsWith(day);
};

/**
 * True when some string in `value` (any depth, keys too) holds a NUL, which PostgreSQL's text cannot store. Walked
 * with a stack of its own, not by recursion: a record nested thousands deep is refused, not a stack overflow.
 */
function holdsNul(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next === 'string') {
      if (next.includes('\u0000')) return true;
    } else if (Array.isArray(next)) {
      for (const item of next) pending.push(item);
    } else if (next !== null && typeof next === 'object') {
      for (const [key, v] of Object.entries(next)) {
        if (key.includes('\u0000')) return true;
        pending.push(v);
      }
    }
  }
  return false;
}

/**
 * Throws BACKUP_INVALIDO unless `record` (the `index`-th of `collection`) fits its collection's schema, holds no NUL
 * in any text, and has its points in time in ISO 8601 within the accepted years: what either driver can store and read
 * back the same (a restore moves data between them).
 */
export function checkRecord(collection: string, record: unknown, index: number): void {
  const schema = RECORD_SCHEMAS[collection];
  if (!schema) return;
  const result = schema.safeParse(record);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw invalid(`registro ${index} de ${collection} fora do esquema: ${issue?.path.join('.')} ${issue?.message}`);
  }
  if (holdsNul(record)) throw invalid(`registro ${index} de ${collection} tem um caractere NUL, que o banco de dados não guarda`);
  for (const { field, date } of TIME_FIELDS[collection] ?? []) {
    const value = (record as Record<string, unknown>)[field];
    if (value === undefined || value === null) continue;
    const text = String(value);
    const isDate = date === true || (date === 'or instant' && ISO_DATE.test(text));
    const day = (isDate ? ISO_DATE : ISO_INSTANT).exec(text)?.[1];
    const valid = day !== undefined && realDay(day) && Number.isFinite(Date.parse(isDate ? `${text}T00:00:00Z` : text)) && yearInRange(text);
    const what = date === true ? 'uma data ISO 8601' : `${date ? 'uma data ou ' : ''}um instante ISO 8601 (até milissegundos)`;
    if (!valid) throw invalid(`registro ${index} de ${collection} fora do esquema: ${field} não é ${what} entre ${ANO_MIN} e ${ANO_MAX}`);
  }
}

/**
 * Parses and checks a manifest of either format against the collections this server knows: every entry
 * named as its format names them, once, sizes and checksums present. Throws BACKUP_INVALIDO.
 */
export function parseManifest(bytes: Buffer, collections: readonly string[]): Manifest | LegacyManifest {
  let manifest: Manifest | LegacyManifest;
  try {
    manifest = JSON.parse(bytes.toString('utf8')) as Manifest | LegacyManifest;
  } catch {
    throw invalid(`${MANIFEST} não é JSON válido`);
  }
  const version: unknown = manifest?.formatVersion;
  if (version !== BACKUP_FORMAT && version !== LEGACY_FORMAT) throw invalid(`versão de formato desconhecida (${String(version)})`);
  if (!Array.isArray(manifest.arquivos) || typeof manifest.contagens !== 'object' || manifest.contagens === null) {
    throw invalid('manifesto incompleto');
  }
  const names =
    manifest.formatVersion === BACKUP_FORMAT
      ? new Set(collections.map(recordsEntry))
      : new Set([...collections.map(legacyEntry), LEGACY_JOURNAL]);
  const seen = new Set<string>();
  for (const a of manifest.arquivos as Partial<ManifestEntry>[]) {
    if (typeof a?.nome !== 'string' || typeof a.sha256 !== 'string' || !Number.isSafeInteger(a.bytes) || a.bytes! < 0) throw invalid('manifesto incompleto');
    if (!names.has(a.nome) || seen.has(a.nome)) throw invalid(`entrada inválida no manifesto: ${JSON.stringify(a.nome)}`);
    if (manifest.formatVersion === BACKUP_FORMAT) {
      if (a.nome !== recordsEntry(a.colecao ?? '') || !Number.isSafeInteger(a.registros) || a.registros! < 0) throw invalid('manifesto incompleto');
    }
    seen.add(a.nome);
  }
  return manifest;
}
