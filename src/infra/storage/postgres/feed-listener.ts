import pg from 'pg';
import type { Logger } from '../../../core/logger.js';
import { FEED_CHANNEL, SIGNAL_CHANNEL } from './schema.js';

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;
/** Defaults of {@link FeedListenerOptions.heartbeatMs} and of the wait for a connection or `LISTEN` to answer. */
const HEARTBEAT_MS = 15_000;
const ANSWER_TIMEOUT_MS = 5_000;

export interface FeedListenerOptions {
  url: string;
  /** Shown in `pg_stat_activity`. */
  applicationName: string;
  logger?: Logger | undefined;
  /**
   * A notification arrived, with the announcing process's token (empty from an older version), or the connection
   * came back (no origin: anything may have been committed meanwhile).
   */
  onWake: (origin?: string) => void;
  /** A signal's payload arrived (see `signals.ts`). */
  onSignal?: ((payload: string) => void) | undefined;
  /**
   * How often the connection is asked a question of its own (ms): a connection can be silent because nothing
   * happened or because the path to the database hangs (a half-open proxy or load balancer, a dropped route), and
   * only an answer tells. No answer within {@link answerTimeoutMs} counts as the connection lost.
   */
  heartbeatMs?: number | undefined;
  /** How long opening the connection, `LISTEN` or a heartbeat may take before it counts as lost (ms). */
  answerTimeoutMs?: number | undefined;
}

/**
 * The connection that `LISTEN`s on the feed's channel and the signals' channel. PostgreSQL delivers the
 * notifications of both to it in commit order, so a signal sent before a unit of work began wakes the reader
 * after the signal has been handed on. It is not a pool's: it stays open for the life of the
 * process. When it is lost (the database restarted, a network cut, a terminated backend, or a path that hangs:
 * a connection attempt, `LISTEN` or a heartbeat left unanswered), it reconnects by itself with jittered exponential
 * backoff (0.1 s up to 5 s) and wakes the reader once it is back.
 */
export class FeedListener {
  private client: pg.Client | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private attempts = 0;
  private closed = false;
  private probing: Promise<boolean> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly answerTimeoutMs: number;

  constructor(private readonly options: FeedListenerOptions) {
    this.answerTimeoutMs = options.answerTimeoutMs ?? ANSWER_TIMEOUT_MS;
  }

  /** Connects and listens; rejects when the database cannot be reached now. */
  async start(): Promise<void> {
    this.closed = false;
    await this.connect();
    this.heartbeat ??= setInterval(() => {
      const client = this.client;
      if (!client || this.probing) return;
      // Only the heartbeat's own silence counts as the connection lost: a health check's shorter limit may pass on
      // a database that is merely slow for a moment.
      this.probe(this.answerTimeoutMs).catch((error: unknown) => this.lost(client, error instanceof Error ? error : new Error(String(error))));
    }, this.options.heartbeatMs ?? HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  async stop(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  /**
   * Asks the database, on this connection, whether it accepts writes (not a standby in recovery): a health probe
   * that does not queue behind a busy pool. Undefined when the connection is down right now. Health checks that
   * arrive while one is asking share its answer: one connection runs one statement at a time (pg 8 warns when
   * asked for more, pg 9 refuses).
   */
  probe(timeoutMs: number): Promise<boolean | undefined> {
    const client = this.client;
    if (!client) return Promise.resolve(undefined);
    this.probing ??= client
      .query<{ ok: boolean }>({ text: 'SELECT NOT pg_is_in_recovery() AS ok', query_timeout: timeoutMs } as pg.QueryConfig)
      .then(({ rows }) => rows[0]?.ok === true)
      .finally(() => (this.probing = undefined));
    return this.probing;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.options.url,
      application_name: this.options.applicationName,
      keepAlive: true,
      // Without it, a connection attempt on a path that hangs never settles, and no other attempt is ever made.
      connectionTimeoutMillis: this.answerTimeoutMs,
    });
    const lost = (error?: Error): void => this.lost(client, error);
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', (message) => {
      if (message.channel === SIGNAL_CHANNEL) this.options.onSignal?.(message.payload ?? '');
      else this.options.onWake(message.payload ?? '');
    });
    try {
      await client.connect();
      await client.query({ text: `LISTEN ${FEED_CHANNEL}; LISTEN ${SIGNAL_CHANNEL}`, query_timeout: this.answerTimeoutMs } as pg.QueryConfig);
    } catch (error) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      throw error;
    }
    this.client = client;
  }

  private lost(client: pg.Client, error?: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => undefined);
    if (this.closed) return;
    this.options.logger?.warn({ err: error }, 'conexão do feed de alterações perdida; reconectando');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const base = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.attempts);
    const delay = base / 2 + Math.random() * (base / 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect().then(
        () => {
          this.attempts = 0;
          if (this.closed) {
            void this.stop();
            return;
          }
          this.options.logger?.info('feed de alterações reconectado');
          this.options.onWake();
        },
        () => {
          this.attempts++;
          this.scheduleReconnect();
        },
      );
    }, delay);
    this.reconnectTimer.unref();
  }
}
