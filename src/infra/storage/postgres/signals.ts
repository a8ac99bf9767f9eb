import { randomUUID } from 'node:crypto';
import type { Logger } from '../../../core/logger.js';
import type { Signals } from '../../../repositories/port.js';
import { SIGNAL_CHANNEL } from './schema.js';

/** PostgreSQL refuses a `NOTIFY` payload of 8000 bytes or more. */
const MAX_PAYLOAD_BYTES = 7_999;

/** A signal on the wire. */
interface Wire {
  /** The sending process. */
  o: string;
  t: string;
  p: unknown;
}

/**
 * Signals over `NOTIFY` (sent on a pooled connection, outside any transaction, so at once) and heard on the
 * change feed's `LISTEN` connection. PostgreSQL orders notifications by commit: a process hears a signal that
 * another sent before beginning a unit of work before that unit of work's feed notification — the ordering the
 * port promises. The sender hears its own signals too; they are dropped here by the process's id.
 */
export class PgSignals implements Signals {
  private readonly origin = randomUUID();
  private readonly listeners = new Map<string, Set<(payload: unknown, from: string) => void>>();

  /**
   * `send` runs one statement outside any transaction: the storage's batched reads, so the signals of one moment
   * share a round trip with whatever else is asked then.
   */
  constructor(
    private readonly send: (sql: string, values: readonly unknown[]) => Promise<unknown>,
    private readonly logger?: Logger,
  ) {}

  async publish(topic: string, payload: unknown): Promise<void> {
    const text = JSON.stringify({ o: this.origin, t: topic, p: payload } satisfies Wire);
    if (Buffer.byteLength(text) > MAX_PAYLOAD_BYTES) throw new RangeError(`signal of ${topic} too long for NOTIFY`);
    // Sent again on a fresh connection after a dead pooled one: a signal heard twice is harmless.
    await this.send('SELECT pg_notify($1, $2)', [SIGNAL_CHANNEL, text]);
  }

  subscribe(topic: string, listener: (payload: unknown, from: string) => void): () => void {
    let set = this.listeners.get(topic);
    if (!set) this.listeners.set(topic, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** A notification's payload, from the `LISTEN` connection. Anything that is not a signal of another process is dropped. */
  receive(raw: string): void {
    let wire: Partial<Wire>;
    try {
      wire = JSON.parse(raw) as Partial<Wire>;
    } catch {
      return;
    }
    if (typeof wire !== 'object' || wire === null || typeof wire.o !== 'string' || wire.o === this.origin || typeof wire.t !== 'string') return;
    for (const listener of this.listeners.get(wire.t) ?? []) {
      try {
        listener(wire.p, wire.o);
      } catch (error) {
        // Called from the connection's event: a throw here would end the process.
        this.logger?.error({ err: error, topic: wire.t }, 'sinal não tratado');
      }
    }
  }
}
