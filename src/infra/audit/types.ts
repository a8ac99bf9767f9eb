import type { Papel } from '../../core/context.js';

/**
 * One audit-trail record, as the contract ("Audit trail and LGPD (v2)") pins it. `usuarioId`/`papel` are
 * null for anonymous actions (a failed login). `em` is an ISO instant with offset.
 */
export interface AuditEntry {
  id: string;
  em: string;
  usuarioId: string | null;
  papel: Papel | null;
  /** Stable action code such as `paciente.ler`, `consulta.agendar`, `auth.falha`. */
  acao: string;
  recurso: string;
  recursoId?: string | undefined;
  pacienteIds?: string[] | undefined;
  /** HTTP-like outcome: 200, 201, 401, ... */
  status: number;
  ip: string;
  requestId: string;
}

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
