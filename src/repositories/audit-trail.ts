/**
 * The audit trail's port: an append-only, hash-chained log of who did what (see the line format in
 * `infra/audit/line-format.ts`). Two implementations keep it — monthly JSON-line files in the data directory
 * (`infra/audit/audit-log.ts`, JSON driver) and one table shared by every process of the database
 * (`infra/storage/postgres/audit-log.ts`, PostgreSQL driver). Services, controllers and the composition root
 * know only this interface.
 */
import type { AuditEntry } from '../schemas/audit-entry.js';

export type { AuditEntry } from '../schemas/audit-entry.js';

/** Filters of `GET /sistema/auditoria`. `de` and `ate` are inclusive bounds on `em`. */
export interface AuditQuery {
  usuarioId?: string | undefined;
  pacienteId?: string | undefined;
  acao?: string | undefined;
  de?: Date | undefined;
  ate?: Date | undefined;
  limit: number;
  offset: number;
}

/** One page of entries, newest first (reverse order of the log), with the exact number of matches. */
export interface AuditPage {
  items: AuditEntry[];
  total: number;
  limit: number;
  offset: number;
}

/**
 * Result of walking the whole chain. `entradas` counts the entries verified (up to the first break, when
 * there is one). `primeiraQuebra` says where the chain first breaks, in the keeping's own terms: for files,
 * the month file's name and the 1-based line in it; for the database, `arquivo` is the table (`auditoria`)
 * and `linha` the row's `seq`.
 */
export interface AuditVerification {
  integra: boolean;
  entradas: number;
  primeiraQuebra?: { arquivo: string; linha: number };
}

/** What the Auditor needs of the trail: durable appends. */
export interface AuditSink {
  /** Appends the entries, in order; resolves once they are durable. */
  append(entries: AuditEntry[]): Promise<void>;
  /** Appends the entries whose ids are not in the log yet (crash recovery of staged entries). */
  appendMissing(entries: AuditEntry[]): Promise<unknown>;
}

/** The whole trail: appends, queries and the check of its chain. */
export interface AuditTrail extends AuditSink {
  open(): Promise<void>;
  /** Waits for pending appends, then lets go of what the trail holds (files, indexes). */
  close(): Promise<void>;
  /** Resolves with the number of entries appended (those already present are skipped). */
  appendMissing(entries: AuditEntry[]): Promise<number>;
  /** Entries matching the filter, newest first, with the exact total. */
  query(q: AuditQuery): Promise<AuditPage>;
  /** Walks the whole chain, oldest first, and reports the first break. */
  verify(): Promise<AuditVerification>;
}
