import type { Papel } from '../core/context.js';

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
