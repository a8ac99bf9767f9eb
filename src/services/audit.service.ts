import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { currentContext, type Papel, type RequestContext } from '../core/context.js';
import type { Logger } from '../core/logger.js';
import { formatInstant } from '../core/time.js';
import type { Tx } from '../infra/storage/json/store.js';
import { COLLECTIONS } from '../repositories/collections.js';
import type { Change, StagedAuditEntry, StoragePort, UnitOfWork } from '../repositories/port.js';

import type { AuditEntry, AuditSink } from '../repositories/audit-trail.js';

export type { AuditEntry, AuditSink } from '../repositories/audit-trail.js';

/** What a service says about an action; who, when, where from come from the request context. */
export interface AuditInput {
  acao: string;
  recurso: string;
  recursoId?: string | undefined;
  pacienteIds?: readonly string[] | undefined;
  status: number;
  /** Who acted, when the request context does not know yet (a sign-in). */
  usuarioId?: string | undefined;
  papel?: Papel | undefined;
}

export interface AuditorDeps {
  storage: StoragePort;
  sink: AuditSink;
  clock: Clock;
  timezone: string;
  logger: Logger;
  /** Staged entries older than this are recovered by any process (their writer may have died). */
  recoverAfterMs?: number;
}

const OUTBOX = COLLECTIONS.auditoriaPendente;

/**
 * Writes the audit trail. Reads of patient data are appended (and synced) before the answer leaves.
 * Writes are *staged*: the entry is put in the outbox collection inside the same storage transaction as the
 * write, so the write and its entry become durable in one journal line — neither can exist without the other.
 * Once committed, the entry is appended to the audit files and removed from the outbox; after a crash, any
 * process finds the entries left in the outbox and appends those the files do not hold yet.
 */
export class Auditor {
  private readonly instance = randomUUID();
  private readonly stopCommitListener: () => void;
  private readonly timer: NodeJS.Timeout;
  private draining: Promise<void> = Promise.resolve();

  constructor(private readonly deps: AuditorDeps) {
    this.stopCommitListener = deps.storage.changes.onCommit((changes) => this.onCommit(changes));
    // Storage may be away (a database restart): the entries stay staged and the next round appends them. Left
    // unhandled, the rejection would end the process.
    const recoverLater = () =>
      this.recover().catch((error: unknown) => this.deps.logger.warn({ err: error }, 'recuperação da trilha de auditoria adiada'));
    this.timer = setInterval(recoverLater, 10_000).unref();
  }

  /** Builds an entry from the request context and the service's words. */
  entry(input: AuditInput, context: RequestContext | undefined = currentContext()): AuditEntry {
    const actor = context?.actor;
    return {
      id: randomUUID(),
      em: formatInstant(this.deps.clock.now(), this.deps.timezone),
      usuarioId: input.usuarioId ?? actor?.usuarioId ?? null,
      papel: input.papel ?? actor?.papel ?? null,
      acao: input.acao,
      recurso: input.recurso,
      ...(input.recursoId ? { recursoId: input.recursoId } : {}),
      ...(input.pacienteIds && input.pacienteIds.length > 0 ? { pacienteIds: [...new Set(input.pacienteIds)] } : {}),
      status: input.status,
      ip: context?.ip ?? '',
      requestId: context?.requestId ?? '',
    };
  }

  /** Records an action that writes nothing (a read, a refused sign-in): durable when this resolves. */
  async record(input: AuditInput): Promise<void> {
    await this.deps.sink.append([this.entry(input)]);
  }

  /**
   * Stages the entry of a write inside its unit of work: they commit together. (A JSON-driver `Tx` is still
   * accepted from code not yet moved to the storage port.)
   */
  async stage(tx: UnitOfWork | Tx, input: AuditInput, context?: RequestContext): Promise<void> {
    const staged: StagedAuditEntry = { ...this.entry(input, context ?? currentContext()), origem: this.instance, staged: this.deps.clock.now().getTime() };
    if ('auditOutbox' in tx) await tx.auditOutbox.save(staged);
    else tx.put(OUTBOX, staged);
  }

  /** Moves this process's freshly committed entries to the audit files. */
  private onCommit(changes: readonly Change[]): void {
    const mine: AuditEntry[] = [];
    for (const change of changes) {
      if (change.collection !== OUTBOX || !change.after) continue;
      const staged = change.after as StagedAuditEntry;
      if (staged.origem === this.instance) mine.push(strip(staged));
    }
    if (mine.length > 0) this.drain(mine, false);
  }

  /** Appends entries left in the outbox (by a crash, or a failed append) and clears them. */
  async recover(all = false): Promise<void> {
    const cutoff = this.deps.clock.now().getTime() - (this.deps.recoverAfterMs ?? 30_000);
    const left: AuditEntry[] = [];
    for (const staged of await this.deps.storage.auditOutbox.all()) {
      if (all || staged.staged < cutoff) left.push(strip(staged));
    }
    if (left.length > 0) this.drain(left, true);
    await this.draining;
  }

  private drain(entries: AuditEntry[], recovering: boolean): void {
    const { sink, storage, logger } = this.deps;
    // Queued at once, not behind the previous drain's outbox cleanup: the sink appends in call order, so a
    // write's entry lands before the entry of a read that the same user made after the write was answered.
    const appended = recovering ? sink.appendMissing(entries) : sink.append(entries);
    appended.catch(() => undefined); // Handled below, when the chain reaches it.
    this.draining = this.draining.then(async () => {
      try {
        await appended;
        // Asked in one go: on PostgreSQL one statement for the whole batch.
        await storage.run((tx) => Promise.all(entries.map((e) => tx.auditOutbox.remove(e.id))));
      } catch (error) {
        // The entries stay in the outbox, durable; recovery appends them later.
        logger.error({ err: error }, 'falha ao gravar a trilha de auditoria; nova tentativa na recuperação');
      }
    });
  }

  /** Waits until every staged entry seen so far is in the audit files. */
  async flush(): Promise<void> {
    await this.draining;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.stopCommitListener();
    await this.draining;
  }
}

function strip(staged: StagedAuditEntry): AuditEntry {
  const { origem: _origem, staged: _at, ...entry } = staged;
  return entry;
}
