/**
 * One unit of work on one connection: the port's reads and writes inside a SERIALIZABLE transaction. Writes
 * are recorded as changes (with the record's previous state, read by the same statement) and written to the
 * change feed as the transaction's last statement (see `schema.ts`, "why a lock").
 *
 * Round trips. Statements go through a {@link StatementBatcher}: those the work asks for in one turn of the
 * event loop share one round trip (the rules read a médico and a paciente with `Promise.all`; `BEGIN` rides with
 * the first reads). Writes are sent behind: `save` and `remove` queue their write and resolve at once, so a
 * work's writes travel together with whatever it asks next, those of one collection coalesced into one statement
 * (see `enqueue`); a write that fails aborts the transaction, and the
 * work hears it from its next read or from `run` (the first failure is what `run` reports, as before). A read
 * asked twice with nothing written in between is answered from the first answer (the snapshot has not moved).
 * COMMIT and ROLLBACK go alone, once everything before them has answered: in one query string, a failure would
 * skip them and leave the connection inside an aborted transaction.
 */
import type pg from 'pg';
import { COLLECTIONS, PROCESS_LOCAL_COLLECTIONS } from '../../../repositories/collections.js';
import type { Change, ConsultaRecord, Entity, UnitOfWork, Writes } from '../../../repositories/port.js';
import { StatementBatcher, type Statement } from './batching.js';
import type { PreparedStatements } from './prepared.js';
import { holdsSlot, isPendente } from '../../../domain/consulta-status.js';
import { CONSULTA_MEDICO_LOCK_CLASS, CONSULTA_PACIENTE_LOCK_CLASS, QUEUE_BUCKET_MS, QUEUE_MAX_BUCKETS } from './schema.js';
import type { CommittedChanges, SequencedChange } from './change-feed.js';
import { createReads, type Query } from './reads.js';
import { manyRows, removeManySql, rowValues, tableOf, upsertManySql, upsertSql, type SqlValue } from './tables.js';

/** Feed rows per INSERT (4 parameters each, far below PostgreSQL's 65,535). */
const FEED_ROWS_PER_INSERT = 1000;

interface PendingChange {
  collection: string;
  id: string;
  /** JSON text, or null: inserted / deleted. */
  before: string | null;
  after: string | null;
  /** A removal not yet answered: whether the record was there is known once its DELETE answers. */
  removed?: boolean;
}

interface SaveWrite {
  kind: 'save';
  change: PendingChange;
  row: { json: string; values: SqlValue[] };
}
/** A write asked for and not yet sent (see `enqueue`). */
type QueuedWrite = SaveWrite | { kind: 'remove'; change: PendingChange };

export class PgUnitOfWork {
  /** The first statement that failed: the transaction is aborted from then on, and it explains what follows. */
  failure: unknown;
  readonly changes: PendingChange[] = [];
  /** Records whose history is rewritten in this transaction, after its feed rows (see `forgetHistory`). */
  private readonly forgotten: { collection: string; ids: readonly string[] }[] = [];
  readonly api: UnitOfWork;
  private readonly batcher: StatementBatcher;
  /** Writes sent behind, until they answer. */
  private readonly writes = new Set<Promise<unknown>>();
  /** Answers of reads since the last write, by statement. */
  private readonly memo = new Map<string, Promise<object[]>>();

  /**
   * @param lockAhead for a group of works (`shared-transactions.ts`): the consultas it writes take their queueing
   *   locks in one statement ahead of the writes, in the one order every transaction follows (`schema.ts`,
   *   `consultas_travar_em_ordem`), instead of row by row as the works happen to write. This covers the writes sent in
   *   one batch, which is how a group of bookings writes (its works resume together); writes spread over several
   *   batches take their locks batch by batch, and a deadlock between groups is then broken by PostgreSQL after
   *   deadlock_timeout (40P01: the group runs again).
   */
  constructor(
    private readonly client: pg.PoolClient,
    prepared: PreparedStatements,
    private readonly lockAhead = false,
  ) {
    // The first batch is sent before BEGIN has run (it carries it): the connection is outside any transaction.
    let first = true;
    this.batcher = new StatementBatcher({
      maxInFlight: 1,
      flush: 'microtasks',
      prelude: () => this.advanceLocks(),
      send: async (batch) => {
        const idle = first;
        first = false;
        return 'sql' in batch ? [await client.query(batch.sql, batch.values as unknown[] | undefined)] : prepared.send(client, batch.statements, idle);
      },
    });
    const query: Query = <R extends object>(sql: string, values?: readonly unknown[]) => {
      const key = `${sql}\u0000${JSON.stringify(values ?? [])}`;
      let rows = this.memo.get(key);
      if (!rows) {
        rows = this.query<R>(sql, values).then((r) => r.rows);
        this.memo.set(key, rows);
        rows.catch(() => this.memo.delete(key));
      }
      return rows as Promise<R[]>;
    };
    this.reads = createReads(query);
    this.api = this.view().api;
  }

  private readonly reads: ReturnType<typeof createReads>;

  /**
   * The port's unit of work over this transaction, for one work: `wrote()` says whether that work wrote (several
   * works may share the transaction: see `RunOptions.shared`).
   */
  view(): { api: UnitOfWork; wrote: () => boolean } {
    const { reads } = this;
    let wrote = false;
    const writes = <T extends Entity>(collection: string): Writes<T> => ({
      save: (record) => {
        wrote = true;
        return this.save(collection, record);
      },
      remove: (id) => {
        wrote = true;
        return this.remove(collection, id);
      },
    });
    const api: UnitOfWork = {
      medicos: { ...reads.medicos, ...writes(COLLECTIONS.medicos) },
      pacientes: { ...reads.pacientes, ...writes(COLLECTIONS.pacientes) },
      consultas: { ...reads.consultas, ...writes(COLLECTIONS.consultas) },
      usuarios: { ...reads.usuarios, ...writes(COLLECTIONS.usuarios) },
      sessoes: { ...reads.sessoes, ...writes(COLLECTIONS.sessoes) },
      bloqueios: { ...reads.bloqueios, ...writes(COLLECTIONS.bloqueios) },
      feriados: { ...reads.feriados, ...writes(COLLECTIONS.feriados) },
      listaEspera: { ...reads.listaEspera, ...writes(COLLECTIONS.listaEspera) },
      idempotency: { ...reads.idempotency, ...writes(COLLECTIONS.idempotencia) },
      auditOutbox: { ...reads.auditOutbox, ...writes(COLLECTIONS.auditoriaPendente) },
      // A transaction-level advisory lock: released by COMMIT or ROLLBACK, never left behind.
      lock: async (key) => {
        this.memo.clear();
        await this.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [key]);
      },
      forgetHistory: async (collection, ids) => {
        wrote = true;
        if (ids.length > 0) this.forgotten.push({ collection, ids: [...ids] });
      },
    };
    return { api, wrote: () => wrote };
  }

  /** Queues one statement on the transaction's connection (see "Round trips" above). */
  query<R extends object>(sql: string, values?: readonly unknown[], opening = false): Promise<pg.QueryResult<R>> {
    // Writes queued before this statement go before it.
    this.sendWrites();
    return this.batcher.run({ sql, values }, opening).then(
      (result) => result as pg.QueryResult<R>,
      (error: unknown) => {
        this.failure ??= error;
        throw error;
      },
    );
  }

  /**
   * Opens the transaction: `sql` is its `BEGIN`, which goes first in the first batch, before the advance locks of
   * writes asked in the same turn (a group whose works write before they read).
   */
  begin(sql: string): Promise<unknown> {
    return this.query(sql, undefined, true);
  }

  /** Waits until every statement sent so far has answered (its failure, if any, is then in `failure`). */
  async settle(): Promise<void> {
    this.sendWrites();
    while (this.writes.size > 0 || this.batcher.busy) {
      await Promise.allSettled([...this.writes]);
      await this.batcher.drained();
    }
  }

  /** True when the work changed something (once settled: a removal of nothing changes nothing). */
  wrote(): boolean {
    return this.changes.some((c) => c.removed !== false);
  }

  /** COMMIT or ROLLBACK: alone, after everything before it has answered. */
  async end(sql: 'COMMIT' | 'ROLLBACK'): Promise<void> {
    // Writes not sent yet would only be undone.
    if (sql === 'ROLLBACK') this.queued = [];
    await this.settle();
    await this.client.query(sql);
  }

  /** Sends a write behind: it resolves at once, and its change is filled in when it answers. */
  private behind(statement: Promise<void>): Promise<void> {
    this.memo.clear();
    const write = statement.catch(() => undefined); // its failure is in `failure`, and `run` reports it
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
    return Promise.resolve();
  }

  /** The locks of the consultas queued since the last batch, as one statement (see `lockAhead`). */
  private advanceLocks(): Statement | undefined {
    if (this.lockKeys.classes.length === 0) return undefined;
    const { classes, keys } = this.lockKeys;
    this.lockKeys = { classes: [], keys: [] };
    return { sql: 'SELECT consultas_travar_em_ordem($1::integer[], $2::text[])', values: [classes, keys] };
  }

  private lockKeys: { classes: number[]; keys: string[] } = { classes: [], keys: [] };

  private save(collection: string, record: Entity): Promise<void> {
    if (this.lockAhead && collection === COLLECTIONS.consultas) {
      for (const [lockClass, key] of queueingLocks(record as ConsultaRecord)) {
        this.lockKeys.classes.push(lockClass);
        this.lockKeys.keys.push(key);
      }
    }
    const { json, values } = rowValues(tableOf(collection), record);
    // Its place in the feed is taken now, in the order the work wrote.
    const change: PendingChange = { collection, id: record.id, before: null, after: json };
    this.changes.push(change);
    this.enqueue({ kind: 'save', change, row: { json, values } });
    return Promise.resolve();
  }

  private remove(collection: string, id: string): Promise<void> {
    const change: PendingChange = { collection, id, before: null, after: null, removed: false };
    this.changes.push(change);
    this.enqueue({ kind: 'remove', change });
    return Promise.resolve();
  }

  /**
   * Writes are queued, and sent before any other statement is (so a work's reads see its writes) or at the end of the
   * current task. Those queued together travel as few statements as their order allows: the saves of one collection
   * as one statement (a group of bookings: one INSERT of its consultas, one of its audit entries), its removals as
   * another. Writes to different collections change nothing the other reads, so only each collection's own order is
   * kept: a save and a removal of one collection stay in the order asked, and so do two saves of one record.
   */
  private enqueue(write: QueuedWrite): void {
    this.memo.clear();
    this.queued.push(write);
    if (this.queued.length === 1) queueMicrotask(() => this.sendWrites());
  }

  private queued: QueuedWrite[] = [];

  private sendWrites(): void {
    if (this.queued.length === 0) return;
    const writes = this.queued;
    this.queued = [];
    const statements: { kind: QueuedWrite['kind']; collection: string; writes: QueuedWrite[]; ids: Set<string> }[] = [];
    /** The statement each (kind, collection) still adds to, while nothing asked after it must follow it. */
    const open = new Map<string, (typeof statements)[number]>();
    for (const write of writes) {
      const { collection, id } = write.change;
      const key = `${write.kind}\u0000${collection}`;
      let statement = open.get(key);
      // A second save of one record goes after the first (a removal of it twice stays one: see `sendRemoval`).
      if (statement && write.kind === 'save' && statement.ids.has(id)) statement = undefined;
      if (!statement) {
        statement = { kind: write.kind, collection, writes: [], ids: new Set() };
        statements.push(statement);
        open.set(key, statement);
      }
      // What the other kind asks of this collection from now on goes after this write.
      open.delete(`${write.kind === 'save' ? 'remove' : 'save'}\u0000${collection}`);
      statement.writes.push(write);
      statement.ids.add(id);
    }
    for (const { kind, collection, writes: list } of statements) {
      if (kind === 'save') this.sendSaves(collection, list as SaveWrite[]);
      else this.sendRemoval(collection, list.map((w) => w.change));
    }
  }

  /** One statement for the saves of one collection (distinct ids), answering each record's previous version. */
  private sendSaves(collection: string, saves: readonly SaveWrite[]): void {
    const table = tableOf(collection);
    const [only] = saves;
    const statement =
      saves.length === 1
        ? this.query<{ antes: string | null }>(upsertSql(table), only!.row.values)
        : this.query<{ antes: string | null }>(upsertManySql(table), manyRows(table, saves.map((s) => s.row)));
    this.behind(
      statement.then(({ rows }) => {
        saves.forEach((save, i) => (save.change.before = rows[i]?.antes ?? null));
      }),
    );
  }

  private sendRemoval(collection: string, changes: readonly PendingChange[]): void {
    const ids = [...new Set(changes.map((c) => c.id))];
    const sql = removeManySql(tableOf(collection));
    this.behind(
      this.query<{ id: string; antes: string }>(sql, [ids]).then(({ rows }) => {
        const removed = new Map(rows.map((r) => [r.id, r.antes]));
        // The first removal of a record removed it; a second one in the same go removed nothing, as in order.
        for (const change of changes) {
          const antes = removed.get(change.id);
          if (antes === undefined) continue;
          removed.delete(change.id);
          change.before = antes;
          delete change.removed;
        }
      }),
    );
  }

  /**
   * Writes the feed rows of every change, in order; returns the changes with their seqs, and apart the changes of
   * process-local collections, which get no feed row (only this process hears them: `PROCESS_LOCAL_COLLECTIONS`).
   */
  async writeFeed(): Promise<CommittedChanges> {
    await this.settle();
    if (this.failure !== undefined) throw this.failure;
    // As the JSON driver: removing what is not there changes nothing, and the feed hears nothing.
    const changes = this.changes.filter((c) => c.removed !== false);
    this.changes.length = 0;
    // A loop, not `push(...)`: a spread of more than about 125k arguments throws a RangeError.
    for (const c of changes) if (!PROCESS_LOCAL_COLLECTIONS.has(c.collection)) this.changes.push(c);
    const local = changes.filter((c) => PROCESS_LOCAL_COLLECTIONS.has(c.collection)).map(toChange);
    const out: SequencedChange[] = [];
    for (let start = 0; start < this.changes.length; start += FEED_ROWS_PER_INSERT) {
      const chunk = this.changes.slice(start, start + FEED_ROWS_PER_INSERT);
      const values: unknown[] = [];
      const tuples = chunk.map((c, i) => {
        values.push(c.collection, c.id, c.before, c.after);
        return `($${i * 4 + 1}, $${i * 4 + 2}, $${i * 4 + 3}::json, $${i * 4 + 4}::json)`;
      });
      const { rows } = await this.query<{ seq: string }>(`INSERT INTO alteracoes (colecao, id, antes, depois) VALUES ${tuples.join(', ')} RETURNING seq`, values);
      // The trigger numbers rows in the order the statement inserts them, which is the order of VALUES.
      const seqs = rows.map((r) => Number(r.seq)).sort((a, b) => a - b);
      chunk.forEach((c, i) => {
        out.push({
          seq: seqs[i]!,
          change: toChange(c),
        });
      });
    }
    await this.rewriteForgotten();
    return { sequenced: out, local };
  }

  /**
   * Rewrites the feed rows of the records asked to be forgotten — this transaction's own, just written, and older
   * ones kept for processes reading late — to the record's current version, or `{"id": …}` for a deleted one. In the
   * same transaction as the write: the old values leave with the commit. The rows stay in place: a reader meets no
   * gap, and hears a change whose before and after hold no old value.
   */
  private async rewriteForgotten(): Promise<void> {
    for (const { collection, ids } of this.forgotten) {
      await this.query(
        `UPDATE alteracoes a
            SET antes = CASE WHEN a.antes IS NULL THEN NULL ELSE COALESCE(r.data, json_build_object('id', a.id)) END,
                depois = CASE WHEN a.depois IS NULL THEN NULL ELSE COALESCE(r.data, json_build_object('id', a.id)) END
           FROM unnest($2::text[]) AS alvo(id) LEFT JOIN ${tableOf(collection).table} r ON r.id = alvo.id
          WHERE a.colecao = $1 AND a.id = alvo.id`,
        [collection, ids],
      );
    }
  }
}

const toChange = (c: PendingChange): Change => ({
  collection: c.collection,
  id: c.id,
  before: c.before === null ? undefined : (JSON.parse(c.before) as Entity),
  after: c.after === null ? undefined : (JSON.parse(c.after) as Entity),
});

/**
 * The advisory locks `consultas_enfileirar` (schema.ts, migration 0012) takes for a written consulta, as (class, key)
 * with the key text it hashes: every quarter hour the consulta touches, counted from the epoch (the last one is that
 * of `fim` minus a microsecond there, a millisecond here: the records' times are whole milliseconds), or its first
 * and last only past {@link QUEUE_MAX_BUCKETS}; for the médico when it holds the slot, for the paciente when it is
 * pendente.
 */
export function queueingLocks(c: ConsultaRecord): [number, string][] {
  const first = Math.floor(Date.parse(c.inicio) / QUEUE_BUCKET_MS);
  const last = Math.floor((Date.parse(c.fim) - 1) / QUEUE_BUCKET_MS);
  const step = last - first >= QUEUE_MAX_BUCKETS ? last - first : 1;
  const buckets: number[] = [];
  for (let b = first; b <= last; b += step) buckets.push(b);
  const locks: [number, string][] = [];
  if (holdsSlot(c)) for (const b of buckets) locks.push([CONSULTA_MEDICO_LOCK_CLASS, `${c.medicoId}:${b}`]);
  if (isPendente(c.status)) for (const b of buckets) locks.push([CONSULTA_PACIENTE_LOCK_CLASS, `${c.pacienteId}:${b}`]);
  return locks;
}
