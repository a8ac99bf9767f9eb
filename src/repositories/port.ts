/**
 * The storage port: what the domain and the services may ask of storage, and nothing about how it is kept.
 * Two drivers implement it — `infra/storage/json/` (the data directory: JSON files, a journal, a file lock) and
 * `infra/storage/postgres/` (one database shared by any number of processes). Nothing outside a driver knows
 * files or SQL.
 *
 * Every method is async: a driver may answer from memory (JSON) or from a query (PostgreSQL). Reads outside a
 * transaction see committed data. Writes happen only inside {@link StoragePort.run}: the unit of work sees its
 * own writes, is serializable against every other unit of work of every process, and is retried by the driver
 * when the database reports a serialization conflict — so `work` must be safe to run more than once (no side
 * effects outside `tx`; keep those for after `run` resolves).
 */
import type { Bloqueio } from '../schemas/bloqueio.schema.js';
import type { Consulta, StatusConsulta } from '../schemas/consulta.schema.js';
import type { FeriadoRecord } from '../schemas/feriado.schema.js';
import type { ListaEsperaRecord } from '../schemas/lista-espera.schema.js';
import type { Medico } from '../schemas/medico.schema.js';
import type { Paciente } from '../schemas/paciente.schema.js';
import type { SessaoRecord, UsuarioRecord } from '../schemas/usuario.schema.js';
import type { AuditEntry } from '../schemas/audit-entry.js';

export interface Entity {
  id: string;
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

// ---- records ------------------------------------------------------------------------------------------

export type ConsultaRecord = Consulta;

/** A response remembered under an `Idempotency-Key` (stored by the key's SHA-256, never the key itself). */
export interface IdempotencyRecord {
  id: string;
  /** SHA-256 of the normalised request: the same key with another body is refused. */
  fingerprint: string;
  status: number;
  body: unknown;
  location: string | null;
  /** ms since the epoch. */
  criadoEm: number;
}

/** An audit entry staged with its write, until it is in the audit files (see `Auditor`). */
export interface StagedAuditEntry extends AuditEntry {
  /** The process that staged it. */
  origem: string;
  /** ms since the epoch. */
  staged: number;
}

// ---- filters ------------------------------------------------------------------------------------------

export interface MedicoFilter {
  especialidade?: string | undefined;
  ativo?: boolean | undefined;
  q?: string | undefined;
  limit: number;
  offset: number;
}

export interface PacienteFilter {
  q?: string | undefined;
  cpf?: string | undefined;
  limit: number;
  offset: number;
  /** Only these ids (a médico user's own pacientes). */
  only?: ReadonlySet<string> | undefined;
}

export interface ConsultaFilter {
  medicoId?: string | undefined;
  pacienteId?: string | undefined;
  status?: StatusConsulta | undefined;
  /** Inclusive bounds on `inicio`, ms since the epoch. */
  fromMs?: number | undefined;
  toMs?: number | undefined;
  limit: number;
  offset: number;
}

// ---- reads, per aggregate -----------------------------------------------------------------------------

export interface MedicoReads {
  get(id: string): Promise<Medico | undefined>;
  findByCrm(crm: string): Promise<Medico | undefined>;
  /** Sorted by name (pt-BR collation), then id. `q` and `especialidade` compare without case or accents. */
  list(filter: MedicoFilter): Promise<Page<Medico>>;
  /** Every médico, by name: the agenda and the free-slot search walk them (a clinic has tens, not thousands). */
  all(): Promise<readonly Medico[]>;
}

export interface PacienteReads {
  get(id: string): Promise<Paciente | undefined>;
  findByCpf(cpf: string): Promise<Paciente | undefined>;
  /** Sorted by name (pt-BR collation), then id. */
  list(filter: PacienteFilter): Promise<Page<Paciente>>;
}

/** What the booking rules read about a booking's médico and paciente, asked together. */
export interface BookingSubjects {
  medico: Medico | undefined;
  paciente: Paciente | undefined;
  /** The médico's bloqueios, as `BloqueioReads.ofMedico` answers them. */
  bloqueios: Bloqueio[];
}

/** What holds a span: the médico's slot holder and the paciente's pendente consulta there, if any. */
export interface SpanConflicts {
  medico: ConsultaRecord | undefined;
  paciente: ConsultaRecord | undefined;
}

/**
 * Consultas, with the queries the booking rules and the agenda need. "Holds a slot" and "pendente" are the
 * rules of `domain/consulta-status.ts` (`holdsSlot`, `isPendente`); a driver may enforce them with constraints.
 */
export interface ConsultaReads {
  get(id: string): Promise<ConsultaRecord | undefined>;
  /**
   * The médico, the paciente and the médico's bloqueios, as `medicos.get`, `pacientes.get` and `bloqueios.ofMedico`
   * would answer them, in one read (one statement on PostgreSQL: the re-check inside a booking's unit of work asks
   * it; the early checks ask it of a `SubjectsCache`, which asks it here on a miss). The rules ask it in place of those three for the request's
   * ids (`withSubjects` in `domain/booking-rules.ts`): a wrapper that changes those three must change this too.
   */
  subjectsOf(medicoId: string, pacienteId: string): Promise<BookingSubjects>;
  /** The médico's consultas (any status) starting in [fromMs, toMs), in `inicio` order (then id). */
  forMedicoBetween(medicoId: string, fromMs: number, toMs: number): Promise<ConsultaRecord[]>;
  /** A slot-holding consulta of the médico overlapping [fromMs, toMs), other than `exceptId`. */
  medicoConflict(medicoId: string, fromMs: number, toMs: number, exceptId?: string): Promise<ConsultaRecord | undefined>;
  /** A pendente consulta of the paciente (any médico, encaixe or not) overlapping [fromMs, toMs), other than `exceptId`. */
  pacienteConflict(pacienteId: string, fromMs: number, toMs: number, exceptId?: string): Promise<ConsultaRecord | undefined>;
  /**
   * `medicoConflict` and `pacienteConflict` of one span, as they would answer, in one read (one statement on
   * PostgreSQL: a booking's early checks ask both).
   */
  conflictsAt(medicoId: string, pacienteId: string, fromMs: number, toMs: number, exceptId?: string): Promise<SpanConflicts>;
  /** The médico's encaixes that are not cancelled, starting in [fromMs, toMs), in `inicio` order. */
  encaixesBetween(medicoId: string, fromMs: number, toMs: number): Promise<ConsultaRecord[]>;
  /** True when the médico has a pendente consulta starting after `nowMs`. */
  medicoHasFuturePendente(medicoId: string, nowMs: number): Promise<boolean>;
  /** True when the paciente has a pendente consulta starting after `nowMs`. */
  pacienteHasFuturePendente(pacienteId: string, nowMs: number): Promise<boolean>;
  /** True when any consulta (any status, any time) refers to the médico. */
  medicoHasAny(medicoId: string): Promise<boolean>;
  /** Every consulta of the paciente (any status), in `inicio` order. */
  ofPaciente(pacienteId: string): Promise<ConsultaRecord[]>;
  /** True when the paciente has any consulta with the médico: what lets a médico user see that paciente. */
  pacienteSeenBy(pacienteId: string, medicoId: string): Promise<boolean>;
  /** The pacientes with any consulta with the médico. */
  pacienteIdsOf(medicoId: string): Promise<Set<string>>;
  /** A page sorted by `inicio`, then id. */
  list(filter: ConsultaFilter): Promise<Page<ConsultaRecord>>;
}

export interface UsuarioReads {
  get(id: string): Promise<UsuarioRecord | undefined>;
  findByEmail(email: string): Promise<UsuarioRecord | undefined>;
  count(): Promise<number>;
  /** True when some active admin other than `exceptId` exists (the last admin must stay). */
  hasOtherActiveAdmin(exceptId: string): Promise<boolean>;
  /** Sorted by name, then id. */
  list(limit: number, offset: number): Promise<Page<UsuarioRecord>>;
}

export interface SessaoReads {
  /** By the hash of its token. */
  get(id: string): Promise<SessaoRecord | undefined>;
  ofUser(usuarioId: string): Promise<SessaoRecord[]>;
  /** Sessions last used before `cutoffMs`; with `limit`, at most that many of them (which ones is the driver's choice). */
  expired(cutoffMs: number, limit?: number): Promise<SessaoRecord[]>;
}

export interface BloqueioReads {
  get(id: string): Promise<Bloqueio | undefined>;
  /** The médico's bloqueios, by start. */
  ofMedico(medicoId: string): Promise<Bloqueio[]>;
}

export interface FeriadoReads {
  get(id: string): Promise<FeriadoRecord | undefined>;
  /** The clinic's own holidays of one date (YYYY-MM-DD). */
  on(data: string): Promise<FeriadoRecord[]>;
  /** Those of a year. */
  ofYear(ano: number): Promise<FeriadoRecord[]>;
}

export interface ListaEsperaReads {
  get(id: string): Promise<ListaEsperaRecord | undefined>;
  /** Every entry, oldest first (first come, first served). A clinic keeps hundreds, not millions. */
  all(): Promise<readonly ListaEsperaRecord[]>;
  /** The paciente's entries, oldest first. */
  ofPaciente(pacienteId: string): Promise<ListaEsperaRecord[]>;
}

export interface IdempotencyReads {
  get(id: string): Promise<IdempotencyRecord | undefined>;
  /** Ids of records created before `cutoffMs`; with `limit`, at most that many of them (which ones is the driver's choice). */
  olderThan(cutoffMs: number, limit?: number): Promise<string[]>;
}

export interface AuditOutboxReads {
  /** Staged entries, oldest first. */
  all(): Promise<StagedAuditEntry[]>;
}

/** Everything that can be read, outside or inside a unit of work. */
export interface Reads {
  medicos: MedicoReads;
  pacientes: PacienteReads;
  consultas: ConsultaReads;
  usuarios: UsuarioReads;
  sessoes: SessaoReads;
  bloqueios: BloqueioReads;
  feriados: FeriadoReads;
  listaEspera: ListaEsperaReads;
  idempotency: IdempotencyReads;
  auditOutbox: AuditOutboxReads;
}

// ---- the unit of work ---------------------------------------------------------------------------------

/** Writes of one aggregate: a whole record replaces the stored one. */
export interface Writes<T extends Entity> {
  save(record: T): Promise<void>;
  remove(id: string): Promise<void>;
}

/** Reads and writes inside one unit of work. */
export interface UnitOfWork {
  medicos: MedicoReads & Writes<Medico>;
  pacientes: PacienteReads & Writes<Paciente>;
  consultas: ConsultaReads & Writes<ConsultaRecord>;
  usuarios: UsuarioReads & Writes<UsuarioRecord>;
  sessoes: SessaoReads & Writes<SessaoRecord>;
  bloqueios: BloqueioReads & Writes<Bloqueio>;
  feriados: FeriadoReads & Writes<FeriadoRecord>;
  listaEspera: ListaEsperaReads & Writes<ListaEsperaRecord>;
  idempotency: IdempotencyReads & Writes<IdempotencyRecord>;
  auditOutbox: AuditOutboxReads & Writes<StagedAuditEntry>;
  /**
   * Serialises units of work that share `key` for the rest of this one (PostgreSQL: a transaction-level
   * advisory lock; JSON: a no-op, every unit of work already runs alone). For counted limits no constraint
   * can express, such as encaixes per médico per day.
   */
  lock(key: string): Promise<void>;
  /**
   * Keeps no earlier version of these records anywhere storage still holds one after this unit of work replaced or
   * deleted them (LGPD anonymisation: the old values must go with the commit, not when history is pruned).
   * PostgreSQL: the change feed's rows of the records are rewritten to their current version (a deleted one to its
   * bare id) inside this transaction, so they go with the commit or not at all. JSON: the journal is folded into
   * the data files once the unit of work is durable, before `run` resolves.
   */
  forgetHistory(collection: string, ids: readonly string[]): Promise<void>;
}

export type Work<R> = (tx: UnitOfWork) => Promise<R>;

export interface RunOptions {
  /**
   * The work may share one unit of work with other works run with this option at the same moment: they run side by
   * side in it, and commit or fail together. PostgreSQL then sends their statements together and commits once (a
   * burst of bookings costs a few round trips instead of a dozen each); JSON ignores it (every unit of work already
   * shares its commit with those queued beside it).
   *
   * Only for works that cannot break each other's rules unseen: side by side, one may or may not see another's
   * writes, so every way two of them could conflict must be refused by the storage itself (a constraint: two
   * bookings of one slot, one paciente twice at one time) or kept out of one group by the caller (the booking
   * service runs one request per `Idempotency-Key` at a time in a process). When a constraint fires, or a
   * work fails after it wrote, each work of the group runs again alone, with the same guarantees as without the
   * option. A work that fails before writing fails alone (a refused booking does not undo the others).
   */
  shared?: boolean | undefined;
}

// ---- the change feed ----------------------------------------------------------------------------------

/** One record changed: `before` undefined means inserted, `after` undefined means deleted. */
export interface Change {
  collection: string;
  id: string;
  before: Entity | undefined;
  after: Entity | undefined;
}

export interface ChangeFeed {
  /**
   * Calls `listener` with the changes of every durable commit, of this process (once durable) and of other
   * processes (once seen), in commit order. Domain events (slot states, SSE) are raised from here. Changes of
   * `PROCESS_LOCAL_COLLECTIONS` may reach only the process that made them.
   */
  onCommit(listener: (changes: readonly Change[]) => void): () => void;
  /**
   * Changes of `collection` may have been missed (a restore, another process's checkpoint, a gap in the
   * feed): anything derived from it must be rebuilt, and live clients told to refetch.
   */
  onReset(listener: (collection: string) => void): () => void;
  /**
   * Where this process stands in an order of commits that every process sharing the storage agrees on
   * (PostgreSQL: the feed's `seq`). Absent when the driver has no such order (JSON). Called while a commit
   * listener runs, it describes the changes being delivered; otherwise the feed between deliveries. The SSE
   * broker numbers events with it, so a client can resume on another process (`Last-Event-ID`).
   */
  position?(): FeedPosition;
}

/** See {@link ChangeFeed.position}. */
export interface FeedPosition {
  /** Every change with a seq up to this one has been delivered to this process's listeners. */
  watermark: number;
  /** While a commit listener runs: the highest seq among the changes it is hearing. */
  seq?: number | undefined;
  /** The highest seq this process has delivered (its own commits may run ahead of the watermark). */
  highest: number;
}

// ---- signals ------------------------------------------------------------------------------------------

/**
 * Short-lived messages to the other processes sharing the storage: what is true only for a moment and is kept
 * nowhere, such as a slot reserved for a booking in flight. A process hears another's signals in the order they
 * were sent, and in their place among that process's commits (a signal sent before a unit of work began is
 * heard before its changes). A process that is away misses them: nothing replays a signal.
 */
export interface Signals {
  /** Resolves once every other process can hear it. */
  publish(topic: string, payload: unknown): Promise<void>;
  /** Signals of `topic` sent by other processes (never this one's own), with the sending process's id. */
  subscribe(topic: string, listener: (payload: unknown, from: string) => void): () => void;
}

// ---- export and import (backups, restore, reports, moves between drivers) -----------------------------

/** Every record of every collection at one consistent moment. */
export interface RecordSnapshot {
  counts: Readonly<Record<string, number>>;
  /** The records of one collection, in id order, read a batch at a time. */
  records(collection: string): AsyncIterable<Entity>;
  /** Ends the snapshot (PostgreSQL: its transaction). */
  close(): Promise<void>;
}

/** Records of every collection to replace the stored ones with (a restore). */
export type RecordSource = (collection: string) => AsyncIterable<Entity>;

/** How an import treats what is stored now (see `StoragePort.importRecords`). */
export interface ImportOptions {
  /** Collections whose stored records stay as they are; the source is not asked for them. */
  keep?: ReadonlySet<string>;
  /**
   * Runs once no process can commit a change to any record until the import has ended, and before anything changes,
   * with every record as it is then (a restore's safety backup: no write acknowledged before the import falls
   * between it and the restored data). When it throws, nothing changes and the import fails with its error.
   */
  beforeReplace?: (current: RecordSnapshot) => Promise<void>;
}

// ---- the port -----------------------------------------------------------------------------------------

export type DriverName = 'json' | 'postgres';

export interface StoragePort extends Reads {
  readonly driver: DriverName;
  /** The collections, as named in backups (the same for every driver). */
  readonly collections: readonly string[];
  open(): Promise<void>;
  /** Finishes pending writes and releases resources. */
  close(): Promise<void>;
  /** Runs `work` as one serializable, durable unit: it resolves once committed, or rejects and writes nothing. */
  run<R>(work: Work<R>, options?: RunOptions): Promise<R>;
  readonly changes: ChangeFeed;
  /** Absent when no other process can share the storage's live state (JSON: one writer at a time). */
  readonly signals?: Signals | undefined;
  /**
   * True when the storage itself refuses, as a write is made, two slot-holding consultas of one médico that overlap
   * and two pendente consultas of one paciente that overlap, with the errors the booking rules give
   * (HORARIO_OCUPADO, CONFLITO_PACIENTE): PostgreSQL's exclusion constraints. A unit of work that books may then
   * leave those two checks to its write. Under SERIALIZABLE the reads would lock index pages that unrelated
   * bookings write into, and make them abort each other; the write decides the same race either way.
   */
  readonly refusesOverlaps: boolean;
  /** A consistent snapshot of every record. Close it when done. */
  exportRecords(): Promise<RecordSnapshot>;
  /**
   * Replaces every collection at once, atomically (a restore); listeners hear a reset of each. Returns the count of
   * each collection after it (kept ones included).
   */
  importRecords(source: RecordSource, options?: ImportOptions): Promise<Record<string, number>>;
  /** Number of records in each collection. */
  counts(): Promise<Record<string, number>>;
  /** True when writes can be made now (disk writable, database reachable). */
  healthy(): Promise<boolean>;
}
