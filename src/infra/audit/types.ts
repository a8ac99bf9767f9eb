import type { AuditEntry } from '../../schemas/audit-entry.js';

export type { AuditEntry } from '../../schemas/audit-entry.js';
export type { AuditPage, AuditQuery, AuditVerification } from '../../repositories/audit-trail.js';

/** An entry as stored: the entry plus its place in the hash chain. */
export interface StoredAuditEntry extends AuditEntry {
  hashAnterior: string;
  hash: string;
}
