/**
 * Audit-trail benchmark: one month of 1,000,000 entries, then filtered queries, a rebuild of the index
 * from the .jsonl, and a full chain verification.
 *
 *   npx tsx bench/audit.bench.ts            (1,000,000 entries, about a minute)
 *   npx tsx bench/audit.bench.ts 200000
 *
 * The month is written through AuditLog.append in batches of 10,000 (one write + one fdatasync each,
 * exactly the production path, just with big batches). Query times are for a fresh AuditLog (as after a
 * restart: the first query loads the sidecar) and then warm (median of 5).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { AuditLog } from '../src/infra/audit/audit-log.js';
import { sidecarName } from '../src/infra/audit/month-index.js';
import type { AuditEntry, AuditQuery } from '../src/infra/audit/types.js';

const N = Number(process.argv[2] ?? 1_000_000);
const logger = pino({ level: 'silent' });
const BASE = Date.UTC(2026, 10, 1, 3, 0, 0);
const STEP = Math.floor((29 * 24 * 3600_000) / N); // spread over the month
const ACOES = ['paciente.ler', 'paciente.listar', 'consulta.agendar', 'consulta.cancelar', 'consulta.ler', 'paciente.criar', 'auth.login', 'auth.falha', 'usuario.criar', 'backup.restaurar', 'consulta.remarcar', 'paciente.exportar'];
const RARE = 'paciente-raro-0000-0000-000000000000';
const BUSY = 'paciente-frequente-0000-0000-00000000';
const rareAt = new Set([17, Math.floor(N / 2), N - 5]);
const uuidish = (prefix: string, n: number) => `${prefix}-${String(n).padStart(8, '0')}-0000-4000-8000-000000000000`;

function entry(i: number): AuditEntry {
  const paciente = uuidish('pac', (i * 7919) % 40_000);
  const anonymous = i % 97 === 0;
  return {
    id: uuidish('aud', i),
    em: new Date(BASE + i * STEP - 3 * 3600_000).toISOString().replace('Z', '-03:00'),
    usuarioId: anonymous ? null : uuidish('usr', i % 30),
    papel: anonymous ? null : (['admin', 'recepcao', 'medico'] as const)[i % 3]!,
    acao: anonymous ? 'auth.falha' : ACOES[i % ACOES.length]!,
    recurso: 'paciente',
    recursoId: paciente,
    pacienteIds: rareAt.has(i) ? [RARE] : i % 199 === 0 ? [BUSY, paciente] : i % 10 === 0 ? [paciente, uuidish('pac', (i * 31) % 40_000)] : [paciente],
    status: anonymous ? 401 : 200,
    ip: '192.168.0.10',
    requestId: uuidish('req', i),
  };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

const print = (...parts: unknown[]) => process.stdout.write(`${parts.join(' ')}\n`);
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20).unref();

const dir = mkdtempSync(path.join(tmpdir(), 'agenda-audit-bench-'));
const file = path.join(dir, '2026-11.jsonl');
try {
  const writer = new AuditLog({ dir, logger, fsyncEachBatch: process.env.NOSYNC ? false : true });
  await writer.open();
  const built = await timed(async () => {
    for (let start = 0; start < N; start += 10_000) {
      const batch: AuditEntry[] = [];
      for (let i = start; i < Math.min(N, start + 10_000); i++) batch.push(entry(i));
      await writer.append(batch);
    }
    await writer.close();
  });
  print(`wrote ${N.toLocaleString('en')} entries in ${(built.ms / 1000).toFixed(1)} s: ${mb(statSync(file).size)} .jsonl, ${mb(statSync(path.join(dir, sidecarName('2026-11.jsonl'))).size)} sidecar`);

  const queries: [string, AuditQuery][] = [
    ['rare pacienteId (3 of 1M)', { pacienteId: RARE, limit: 50, offset: 0 }],
    ['common pacienteId', { pacienteId: uuidish('pac', 1234), limit: 50, offset: 0 }],
    ['pacienteId in every block (~5,000)', { pacienteId: BUSY, limit: 50, offset: 0 }],
    ['usuarioId', { usuarioId: uuidish('usr', 7), limit: 50, offset: 0 }],
    ['usuarioId, offset 20,000', { usuarioId: uuidish('usr', 7), limit: 50, offset: 20_000 }],
    ['acao', { acao: 'backup.restaurar', limit: 50, offset: 0 }],
    ['usuarioId + acao', { usuarioId: uuidish('usr', 7), acao: 'paciente.listar', limit: 50, offset: 0 }],
    ['one day (de/ate)', { de: new Date(BASE + 10 * 86_400_000), ate: new Date(BASE + 11 * 86_400_000), limit: 50, offset: 0 }],
    ['one day + usuarioId', { usuarioId: uuidish('usr', 3), de: new Date(BASE + 10 * 86_400_000), ate: new Date(BASE + 11 * 86_400_000), limit: 50, offset: 0 }],
    ['unfiltered, offset 500,000', { limit: 50, offset: 500_000 }],
  ];

  const reader = new AuditLog({ dir, logger });
  const first = await timed(() => reader.query(queries[0]![1]));
  print(`\nfresh process, first query (loads the sidecar): ${first.ms.toFixed(1)} ms, total ${first.value.total}`);
  print('\nquery                              warm median   total');
  for (const [name, q] of queries) {
    const runs: number[] = [];
    let total = 0;
    for (let r = 0; r < 5; r++) {
      const { ms, value } = await timed(() => reader.query(q));
      runs.push(ms);
      total = value.total;
    }
    print(`${name.padEnd(34)} ${median(runs).toFixed(1).padStart(8)} ms ${String(total).padStart(9)}`);
  }

  rmSync(path.join(dir, sidecarName('2026-11.jsonl')));
  const rebuild = await timed(() => new AuditLog({ dir, logger }).query(queries[0]![1]));
  print(`\nsidecar deleted: first query rebuilds the index from the .jsonl in ${(rebuild.ms / 1000).toFixed(2)} s (total ${rebuild.value.total})`);

  const verification = await timed(() => reader.verify());
  print(`verify: ${(verification.ms / 1000).toFixed(2)} s, ${JSON.stringify(verification.value)}`);
  print(`peak RSS ${mb(peakRss)}`);
} finally {
  clearInterval(sampler);
  if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true }); else print(dir);
}
