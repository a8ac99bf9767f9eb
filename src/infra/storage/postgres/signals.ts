import { randomUUID } from 'node:crypto';
import type { Logger } from '../../../core/logger.js';
import type { Signals } from '../../../repositories/port.js';
import { SIGNAL_CHANNEL } from './schema.js';

/** PostgreSQL refuses a `NOTIFY` payload of 8000 bytes or more. */
const MAX_PAYLOAD_BYTES = 7_999;

/** A signal: its topic and payload. */
interface Signal {
  t: string;
  p: unknown;
}

/**
 * A notification on the wire: the sending process and the signals it published in one turn of the event loop, in
 * order (`s`). A process of an older version sends one signal as `t` and `p` beside `o`; both are read.
 */
interface Wire extends Partial<Signal> {
  o: string;
  s?: Signal[];
}

interface Queued {
  text: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Signals over `NOTIFY` (sent on a pooled connection, outside any transaction, so at once) and heard on the
 * change feed's `LISTEN` connection. PostgreSQL orders notifications by commit: a process hears a signal that
 * another sent before beginning a unit of work before that unit of work's feed notification — the ordering the
 * port promises. The sender hears its own signals too; they are dropped here by the process's id.
 *
 * The signals published in one turn of the event loop (a burst of bookings' reservations) travel as one
 * notification, in order, split only where a payload would pass PostgreSQL's limit: one statement and one message
 * to every listening process instead of one each.
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

  private queue: Queued[] = [];
  private scheduled = false;

  /** Resolves once the signal is sent (committed: every process listening will hear it). */
  async publish(topic: string, payload: unknown): Promise<void> {
    const text = JSON.stringify({ t: topic, p: payload } satisfies Signal);
    if (Buffer.byteLength(this.wire([text])) > MAX_PAYLOAD_BYTES) throw new RangeError(`signal of ${topic} too long for NOTIFY`);
    return new Promise((resolve, reject) => {
      this.queue.push({ text, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.flush());
    });
  }

  /**
   * A notification's payload. One signal goes in the previous version's form (`t` and `p` beside `o`), which every
   * version reads: during a rolling upgrade, processes of the previous version hear what is sent alone.
   */
  private wire(texts: readonly string[]): string {
    const origin = `"o":${JSON.stringify(this.origin)}`;
    return texts.length === 1 ? `{${origin},${texts[0]!.slice(1)}` : `{${origin},"s":[${texts.join(',')}]}`;
  }

  /** Sends what was published this turn: as few notifications as the payload limit allows, in order. */
  private flush(): void {
    this.scheduled = false;
    const queued = this.queue.splice(0);
    while (queued.length > 0) {
      const chunk: Queued[] = [queued.shift()!];
      // The size of the batch form, `{"o":…,"s":[a,b,…]}`: a single signal's own form is shorter.
      let bytes = Buffer.byteLength(this.wire([])) + Buffer.byteLength(chunk[0]!.text);
      while (queued.length > 0 && bytes + 1 + Buffer.byteLength(queued[0]!.text) <= MAX_PAYLOAD_BYTES) {
        bytes += 1 + Buffer.byteLength(queued[0]!.text);
        chunk.push(queued.shift()!);
      }
      // Sent again on a fresh connection after a dead pooled one: a signal heard twice is harmless.
      this.send('SELECT pg_notify($1, $2)', [SIGNAL_CHANNEL, this.wire(chunk.map((q) => q.text))]).then(
        () => chunk.forEach((q) => q.resolve()),
        (error: unknown) => chunk.forEach((q) => q.reject(error)),
      );
    }
  }

  subscribe(topic: string, listener: (payload: unknown, from: string) => void): () => void {
    let set = this.listeners.get(topic);
    if (!set) this.listeners.set(topic, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** A notification's payload, from the `LISTEN` connection. Anything that is not a signal of another process is dropped. */
  receive(raw: string): void {
    let wire: Partial<Wire> | null;
    try {
      wire = JSON.parse(raw) as Partial<Wire> | null;
    } catch {
      return;
    }
    if (typeof wire !== 'object' || wire === null || typeof wire.o !== 'string' || wire.o === this.origin) return;
    const signals = Array.isArray(wire.s) ? wire.s : [{ t: wire.t, p: wire.p }];
    for (const signal of signals) {
      if (typeof signal !== 'object' || signal === null || typeof signal.t !== 'string') continue;
      for (const listener of this.listeners.get(signal.t) ?? []) {
        try {
          listener(signal.p, wire.o);
        } catch (error) {
          // Called from the connection's event: a throw here would end the process.
          this.logger?.error({ err: error, topic: signal.t }, 'sinal não tratado');
        }
      }
    }
  }
}
