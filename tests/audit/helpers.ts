import { AuditLog } from '../../src/infra/audit/audit-log.js';
import type { AuditEntry } from '../../src/infra/audit/types.js';
import { silentLogger } from '../helpers/logger.js';

const BASE = Date.UTC(2026, 10, 1, 12, 0, 0); // 2026-11-01T12:00:00Z

/** `em` as the app writes it: São Paulo offset. */
export function isoAt(ms: number): string {
  return new Date(ms - 3 * 3600_000).toISOString().replace('Z', '-03:00').replace(/\.\d{3}-/, '-');
}

/** The i-th synthetic entry, one every 30 s from 2026-11-01, cycling over 20 users, 8 actions, 5,000 pacientes. */
export function makeEntry(i: number, overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    id: `e-${i}`,
    em: isoAt(BASE + i * 30_000),
    usuarioId: `u-${i % 20}`,
    papel: 'recepcao',
    acao: ['paciente.ler', 'paciente.listar', 'consulta.agendar', 'consulta.cancelar', 'paciente.criar', 'auth.login', 'consulta.ler', 'usuario.criar'][i % 8]!,
    recurso: 'paciente',
    recursoId: `p-${i % 5000}`,
    pacienteIds: [`p-${i % 5000}`, `p-${(i * 7) % 5000}`],
    status: 200,
    ip: '10.0.0.1',
    requestId: `r-${i}`,
    ...overrides,
  };
}

export function openLog(dir: string, options: { fsyncEachBatch?: boolean; lockStaleMs?: number } = {}): AuditLog {
  return new AuditLog({ dir, logger: silentLogger, ...options });
}

/** Appends entries `from..to-1` in large batches (one write + one fdatasync per batch, not per entry). */
export async function fill(
  log: AuditLog,
  from: number,
  to: number,
  make: (i: number) => AuditEntry = makeEntry,
  batch = 10_000,
): Promise<void> {
  for (let start = from; start < to; start += batch) {
    const entries: AuditEntry[] = [];
    for (let i = start; i < Math.min(to, start + batch); i++) entries.push(make(i));
    await log.append(entries);
  }
}
