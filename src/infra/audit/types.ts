import type { AuditEntry } from '../../schemas/audit-entry.js';

export type { AuditEntry } from '../../schemas/audit-entry.js';

/** An entry as stored: the entry plus its place in the hash chain. */
export interface StoredAuditEntry extends AuditEntry {
  hashAnterior: string;
  hash: string;
}

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
 * there is one); `linha` is 1-based within `arquivo` (a file name, never a path).
 */
export interface AuditVerification {
  integra: boolean;
  entradas: number;
  primeiraQuebra?: { arquivo: string; linha: number };
}
