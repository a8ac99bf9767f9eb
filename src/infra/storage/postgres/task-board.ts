import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import type { Logger } from '../../../core/logger.js';
import { abandoned, OWNER_BEAT_MS, OWNER_STALE_MS, type TaskBoard } from '../../task-board.js';
import type { TaskFilter, TaskRecord, TaskStatus } from '../../task-record.js';
import { queryRows } from './query.js';

/** Finished tasks kept on the board (the queue's own history bound), and for how long at most. */
export const BOARD_HISTORY = 1000;
const RETENTION_MS = 24 * 60 * 60_000;
/** The board is pruned at most this often per process. */
const PRUNE_EVERY_MS = 60_000;
/** Tries on a fresh connection after a lost one (a database restart leaves dead idle connections in the pool). */
/** Ids the table's `uuid` column can hold: anything else is no task, and never reaches a query. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The records of one process, written in one statement: `ON CONFLICT (id)` updates a record already there (its
 * claim, or an earlier flush). A record the board has set to 'falhou' because its owner was not seen stays so
 * until its owner — alive after all — writes it finished.
 */
const PUBLISH = `
INSERT INTO tarefas AS t (id, tipo, status, dono, criada_em, registro)
SELECT (r->>'id')::uuid, r->>'tipo', r->>'status', $1, (r->>'criadaEm')::timestamptz, r FROM json_array_elements($2::json) AS r
ON CONFLICT (id) DO UPDATE SET
  status = CASE WHEN t.status = 'falhou' AND EXCLUDED.status IN ('pendente', 'executando') THEN t.status ELSE EXCLUDED.status END,
  registro = CASE WHEN t.status = 'falhou' AND EXCLUDED.status IN ('pendente', 'executando') THEN t.registro ELSE EXCLUDED.registro END,
  atualizada_em = now()`;

/** Records with the status every process reads (`efetivo`: unfinished and unowned → 'falhou'), filtered, newest first. */
const READ = `
SELECT registro, efetivo FROM (
  SELECT t.registro, t.criada_em, t.ordem, t.id, t.tipo,
         CASE WHEN t.status IN ('pendente', 'executando') AND NOT tarefas_viva(t.dono, make_interval(secs => $1)) THEN 'falhou' ELSE t.status END AS efetivo
    FROM tarefas t
   WHERE ($2::uuid IS NULL OR t.id = $2::uuid) AND ($3::text IS NULL OR t.tipo = $3)
) v
WHERE ($4::text IS NULL OR v.efetivo = $4)
ORDER BY v.criada_em DESC, v.ordem DESC
LIMIT $5`;

export interface PgTaskBoardOptions {
  /** The driver's pool (`PgStorage.pool`): the board adds no connections of its own. */
  pool: pg.Pool;
  logger?: Logger | undefined;
  /** This process's name on the board (default: host, pid and a random part, unique per board). */
  owner?: string | undefined;
  /** How long an owner may go unseen (default {@link OWNER_STALE_MS}). */
  staleMs?: number | undefined;
  /** How often this process says it is alive (default {@link OWNER_BEAT_MS}). */
  beatMs?: number | undefined;
}

/**
 * The task board in the database (migration 0005_tarefas): table `tarefas` holds every process's task records,
 * `tarefas_processos` when each process was last seen. Claims, reads and liveness are single statements over the
 * storage's pool, outside any unit of work; a database that cannot be reached fails them with the driver's 503.
 */
export class PgTaskBoard implements TaskBoard {
  readonly owner: string;
  private readonly staleSeconds: number;
  private beat: NodeJS.Timeout | undefined;
  private lastPrune = Number.NEGATIVE_INFINITY;
  private pruning: Promise<void> | undefined;

  constructor(private readonly options: PgTaskBoardOptions) {
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.staleSeconds = (options.staleMs ?? OWNER_STALE_MS) / 1000;
  }

  async open(): Promise<void> {
    await this.alive();
    this.beat = setInterval(() => {
      this.alive().catch((error: unknown) => this.options.logger?.warn({ err: error }, 'sinal de vida do processo no quadro de tarefas falhou'));
    }, this.options.beatMs ?? OWNER_BEAT_MS);
    this.beat.unref();
  }

  async claim(task: TaskRecord, key: string, once: string | undefined): Promise<string | undefined> {
    const rows = await queryRows<{ detentora: string | null }>(
      this.options.pool,
      'SELECT tarefas_reivindicar($1::json, $2, $3, $4, make_interval(secs => $5)) AS detentora',
      [JSON.stringify(task), key, once ?? null, this.owner, this.staleSeconds],
    );
    return rows[0]?.detentora ?? undefined;
  }

  async publish(tasks: readonly TaskRecord[]): Promise<void> {
    if (tasks.length === 0) return;
    await queryRows(this.options.pool, PUBLISH, [this.owner, JSON.stringify(tasks)]);
    this.pruneSometimes();
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    if (!UUID.test(id)) return undefined;
    const [row] = await this.read({ limit: 1 }, id);
    return row;
  }

  list(filter: TaskFilter): Promise<TaskRecord[]> {
    return this.read(filter);
  }

  /** Deletes finished tasks beyond the history bound or older than a day, and processes long gone (idempotent). */
  async prune(): Promise<void> {
    this.lastPrune = performance.now();
    await queryRows(this.options.pool, 'SELECT tarefas_podar($1, make_interval(secs => $2), make_interval(secs => $3))', [BOARD_HISTORY, RETENTION_MS / 1000, this.staleSeconds]);
  }

  async close(): Promise<void> {
    clearInterval(this.beat);
    this.beat = undefined;
    await this.pruning;
    // Gone: what this process leaves unfinished reads as abandoned at once, not 30 s from now.
    await queryRows(this.options.pool, 'DELETE FROM tarefas_processos WHERE dono = $1', [this.owner]).catch((error: unknown) =>
      this.options.logger?.warn({ err: error }, 'saída do processo não registrada no quadro de tarefas'),
    );
  }

  private async read(filter: TaskFilter, id?: string): Promise<TaskRecord[]> {
    const rows = await queryRows<{ registro: TaskRecord; efetivo: TaskStatus }>(this.options.pool, READ, [
      this.staleSeconds, id ?? null, filter.tipo ?? null, filter.status ?? null, filter.limit,
    ]);
    return rows.map((row) => (row.efetivo === 'falhou' && row.registro.status !== 'falhou' ? abandoned(row.registro) : row.registro));
  }

  private async alive(): Promise<void> {
    await queryRows(
      this.options.pool,
      'INSERT INTO tarefas_processos (dono, visto_em) VALUES ($1, now()) ON CONFLICT (dono) DO UPDATE SET visto_em = now()',
      [this.owner],
    );
  }

  /** A prune at most once a minute, off the caller's path: a failed one is only logged. */
  private pruneSometimes(): void {
    if (this.pruning || performance.now() - this.lastPrune < PRUNE_EVERY_MS) return;
    this.pruning = this.prune()
      .catch((error: unknown) => this.options.logger?.warn({ err: error }, 'poda do quadro de tarefas falhou'))
      .finally(() => (this.pruning = undefined));
  }


}
