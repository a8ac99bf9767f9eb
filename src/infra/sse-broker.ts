import type { Request, Response } from 'express';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { FeedPosition } from '../repositories/port.js';
import { Tally } from './tally.js';

/** Seconds a refused client is told to wait (`Retry-After`) before opening another stream. */
export const SSE_RETRY_AFTER_S = 30;
/** How long a client may stay behind (missing frames, in `skip` mode) before it is disconnected. */
const STALL_MS = 60_000;
/**
 * With a shared feed position, an id is `watermark × ID_SPAN + n`: n numbers this process's events at one
 * watermark. Safe integers leave room for watermarks up to ~9 × 10⁹ feed rows. A million events of one process
 * with no change delivered in between would carry n into the next watermark's range (not an agenda's rate).
 */
const ID_SPAN = 1_000_000;

/** One event as kept for replay. */
interface SseEvent {
  id: number;
  /** The frame, ready to write. */
  frame: string;
  /** Clients subscribed to a topic get its events; clients without one get all. */
  topic: string | undefined;
  /** With a shared feed position: the highest feed seq among the changes that caused it (none: a local event). */
  seq?: number | undefined;
  /** What the event sets the state of (a slot, a consulta): a later event of the same key supersedes it. */
  key?: string | undefined;
}

interface Client {
  res: Response;
  topic: string | undefined;
  owner: string | undefined;
  user: string | undefined;
  /** When it first fell behind (`skip` mode), until it drains. */
  behindSince: number | undefined;
  /** Whether whoever opened the stream may still read it (see {@link SseBroker.connect}). */
  recheck: (() => Promise<boolean>) | undefined;
  checking: boolean;
}

/** One event of a batch handed to {@link SseBroker.publishAll}. */
export interface SseEventInput {
  event: string;
  data: unknown;
}

export interface SseBrokerOptions {
  logger: Logger;
  heartbeatMs: number;
  /** Events kept for `Last-Event-ID` replay. */
  replay: number;
  /** A client whose unsent data passes this many bytes has stopped reading and is dropped. */
  maxBufferedBytes?: number;
  retryMs?: number;
  /** Streams open at once, in all; one more is refused with 503 `/problemas/limite-de-conexoes`. */
  maxClients?: number;
  /** Streams one owner (the session, as the caller keys it) may hold; one more is refused with 429. */
  maxPerOwner?: number;
  /**
   * Streams one user may hold over all their sessions; one more is refused with 429. Without it, signing in again
   * would open another `maxPerOwner` each time, and one account could take every place of `maxClients`.
   */
  maxPerUser?: number;
  /**
   * What a client whose unsent data passes `maxBufferedBytes` costs: `disconnect` (the default: an
   * EventSource reconnects with Last-Event-ID and gets a replay or `resync`), or `skip` (it misses frames
   * until its socket drains, and is disconnected only if it stays behind for a minute).
   */
  whenBehind?: 'disconnect' | 'skip';
  /**
   * The change feed's position in an order every process shares ({@link ChangeFeed.position}). With it, event
   * ids are derived from that order, so a client may resume on another process: see {@link SseBroker.connect}.
   * Without it (one process, or the JSON driver), ids are this process's own sequence.
   */
  position?: (() => FeedPosition) | undefined;
}

/**
 * Server-Sent Events transport: it knows connections, frames and buffers, and nothing of the domain.
 * Publishers hand it `(event, data, topic)`; it numbers each event, keeps the last `replay` of them in a
 * ring for reconnecting clients, and writes the frame to every matching client.
 *
 * Memory stays bounded however clients behave: the ring has a fixed size, and a client that stops reading
 * (its socket's unsent bytes, `writableLength`, pass `maxBufferedBytes`) is disconnected (or skipped) instead
 * of being buffered for without end. Descriptors stay bounded too: at most `maxClients` streams in all,
 * `maxPerOwner` per owner and `maxPerUser` per user. The broker knows owners and users only as opaque keys; the
 * caller decides what one is.
 */
export class SseBroker {
  private nextId: number;
  private readonly ring: (SseEvent | undefined)[];
  private ringStart = 0;
  private ringSize = 0;
  private readonly clients = new Set<Client>();
  private readonly perOwner = new Tally();
  private readonly perUser = new Tally();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly maxBufferedBytes: number;
  private readonly retryMs: number;
  private dropped = 0;
  private skipped = 0;
  /** Position mode: the highest feed seq a replay can no longer give (evicted, or before this process started). */
  private lostSeq = 0;
  /** Position mode: the highest id evicted from the ring. */
  private lostId = 0;

  constructor(private readonly options: SseBrokerOptions) {
    // Ids keep increasing across restarts (they start from the clock), so an id from before a restart is
    // recognised as older than the buffer and answered with `resync`, never confused with a new event.
    this.nextId = Date.now() * 1000;
    if (options.position) {
      // Changes before this process's feed started were never heard here: a client that missed some must resync.
      const start = options.position().watermark;
      this.lostSeq = start;
      this.nextId = start * ID_SPAN;
    }
    this.ring = new Array<SseEvent | undefined>(options.replay);
    this.maxBufferedBytes = options.maxBufferedBytes ?? 256 * 1024;
    this.retryMs = options.retryMs ?? 3000;
    this.heartbeat = setInterval(() => this.ping(), options.heartbeatMs).unref();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  get droppedCount(): number {
    return this.dropped;
  }

  /** Frames not sent to a client that was behind (`skip` mode). */
  get skippedCount(): number {
    return this.skipped;
  }

  /** Streams `owner` holds open now. */
  ownerCount(owner: string): number {
    return this.perOwner.count(owner);
  }

  /** Streams `user` holds open now, over all their sessions. */
  userCount(user: string): number {
    return this.perUser.count(user);
  }

  /** Numbers, keeps and sends an event; `key` names what it sets the state of, if anything (see {@link SseEvent.key}). */
  publish(event: string, data: unknown, topic?: string, key?: string): number {
    const { id, seq } = this.number();
    const frame = `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    this.keep({ id, frame, topic, seq, key });
    for (const client of this.clients) {
      if (matches(client, topic)) this.write(client, frame);
    }
    return id;
  }

  /**
   * Numbers and keeps several events, and sends them to each client in one write: for high-rate feeds
   * (the log stream), where a write per event per client would cost more than the events themselves.
   */
  publishAll(events: readonly SseEventInput[], topic?: string): void {
    if (events.length === 0) return;
    let frames = '';
    for (const { event, data } of events) {
      const { id, seq } = this.number();
      const frame = `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
      this.keep({ id, frame, topic, seq });
      frames += frame;
    }
    for (const client of this.clients) {
      if (matches(client, topic)) this.write(client, frames);
    }
  }

  /**
   * Turns a request into an event stream: headers, `retry`, replay or `resync`, then live events.
   * Throws {@link AppError} `LIMITE_DE_CONEXOES` (503) when `maxClients` streams are open, and
   * `MUITAS_CONEXOES` (429) when `owner` already holds `maxPerOwner` or `user` `maxPerUser`; both carry `Retry-After`.
   * `recheck`: asked at every heartbeat whether the stream may stay open (its session still valid, its user's rights
   * unchanged); when it answers false the stream ends, and the client's reconnection meets the usual 401 or 403.
   * Streams of one owner share one answer per heartbeat; a check that fails (storage away) keeps the stream.
   * A `HEAD` request gets the headers and nothing else: it is no stream.
   */
  connect(
    req: Request,
    res: Response,
    options: {
      topic?: string | undefined;
      lastEventId?: string | undefined;
      owner?: string | undefined;
      user?: string | undefined;
      recheck?: () => Promise<boolean>;
    },
  ): void {
    const headers = {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    };
    if (req.method === 'HEAD') {
      res.writeHead(200, headers).end();
      return;
    }
    this.admit(options.owner, options.user);
    res.writeHead(200, headers);
    res.socket?.setNoDelay(true);
    const client: Client = {
      res, topic: options.topic, owner: options.owner, user: options.user, behindSince: undefined, recheck: options.recheck, checking: false,
    };
    this.clients.add(client);
    this.perOwner.add(client.owner);
    this.perUser.add(client.user);
    const remove = () => this.detach(client);
    req.on('close', remove);
    res.on('close', remove);
    res.on('error', remove);

    let opening = `retry: ${this.retryMs}\n\n`;
    if (options.lastEventId !== undefined) opening += this.replayAfter(options.lastEventId, options.topic);
    this.write(client, opening);
  }

  /** Ends every stream (shutdown). */
  close(): void {
    clearInterval(this.heartbeat);
    for (const client of this.clients) client.res.end();
    this.clients.clear();
    this.perOwner.clear();
    this.perUser.clear();
  }

  private admit(owner: string | undefined, user: string | undefined): void {
    const retry = { headers: { 'Retry-After': String(SSE_RETRY_AFTER_S) } };
    if (this.options.maxClients !== undefined && this.clients.size >= this.options.maxClients) {
      throw new AppError('LIMITE_DE_CONEXOES', 'O servidor atingiu o limite de fluxos de eventos abertos. Tente mais tarde.', undefined, retry);
    }
    const full = (tally: Tally, key: string | undefined, max: number | undefined): boolean => key !== undefined && max !== undefined && tally.count(key) >= max;
    const tooMany = (who: string): AppError => new AppError('MUITAS_CONEXOES', `${who}; feche um antes de abrir outro.`, undefined, retry);
    const { maxPerOwner, maxPerUser } = this.options;
    if (full(this.perOwner, owner, maxPerOwner)) throw tooMany(`Esta sessão já tem ${maxPerOwner} fluxos de eventos abertos`);
    if (full(this.perUser, user, maxPerUser)) throw tooMany(`Este usuário já tem ${maxPerUser} fluxos de eventos abertos, somadas as suas sessões`);
  }

  /** Forgets a client once, whichever of its close/error events comes first. */
  private detach(client: Client): void {
    if (!this.clients.delete(client)) return;
    this.perOwner.remove(client.owner);
    this.perUser.remove(client.user);
  }

  /**
   * The next id, increasing. With a shared position it is at least `watermark × ID_SPAN`: every process that
   * reads the id knows which changes the client had heard by then, whichever process numbered it.
   */
  private number(): { id: number; seq: number | undefined } {
    if (!this.options.position) return { id: this.nextId++, seq: undefined };
    const { watermark, seq } = this.options.position();
    const id = Math.max(this.nextId, watermark * ID_SPAN);
    this.nextId = id + 1;
    return { id, seq };
  }

  private replayAfter(lastEventId: string, topic: string | undefined): string {
    if (this.options.position) return this.replayAcross(lastEventId, topic, this.options.position());
    const last = /^\d{1,16}$/.test(lastEventId) ? Number(lastEventId) : Number.NaN;
    const oldest = this.ringSize > 0 ? this.ring[this.ringStart]!.id : this.nextId;
    if (!Number.isSafeInteger(last) || last + 1 < oldest || last >= this.nextId) {
      // Events were missed (or the id is not ours): the client must refetch what it shows.
      return `event: resync\ndata: {}\n\n`;
    }
    let frames = '';
    for (let i = 0; i < this.ringSize; i++) {
      const event = this.ring[(this.ringStart + i) % this.ring.length]!;
      if (event.id > last && (topic === undefined || event.topic === undefined || event.topic === topic)) frames += event.frame;
    }
    return frames;
  }

  /**
   * Replay when ids come from the shared feed position: the client's id may have been numbered by another
   * process, and ids do not name a process (two at one watermark number alike). Its watermark W says the client had
   * heard every change up to W: every kept event caused by a later change may have been missed, and so may any
   * local event that sets a state (a reservation, a release), since each process numbers its local events from its
   * own position, which may lag another's (its own commits move it only once it reads the feed). Other local events
   * (notices) are sent when numbered after the id. Of what may have been missed, an event that sets a state (a
   * slot's, a consulta's) is sent as the LAST event kept for that state, wherever it is in the ring: a state sent
   * twice is harmless, an older one sent after a newer one would leave a screen wrong, and one never sent too. When
   * the ring no longer holds all of that (evicted, or from before this process started), or the id is beyond
   * anything this process has heard (another database, or not ours), the client is told to resync.
   */
  private replayAcross(lastEventId: string, topic: string | undefined, position: FeedPosition): string {
    const last = /^\d{1,16}$/.test(lastEventId) ? Number(lastEventId) : Number.NaN;
    if (!Number.isSafeInteger(last)) return `event: resync\ndata: {}\n\n`;
    const watermark = Math.floor(last / ID_SPAN);
    if (watermark > position.highest || this.lostSeq > watermark || this.lostId > last) return `event: resync\ndata: {}\n\n`;
    const events: SseEvent[] = [];
    for (let i = 0; i < this.ringSize; i++) events.push(this.ring[(this.ringStart + i) % this.ring.length]!);
    const latest = new Map<string, SseEvent>();
    for (const event of events) if (event.key !== undefined) latest.set(event.key, event);
    const wanted = new Set<SseEvent>();
    for (const event of events) {
      const missed = event.id > last || (event.seq !== undefined ? event.seq > watermark : event.key !== undefined);
      if (!missed || (topic !== undefined && event.topic !== undefined && event.topic !== topic)) continue;
      wanted.add(event.key === undefined ? event : latest.get(event.key)!);
    }
    let frames = '';
    for (const event of events) if (wanted.has(event)) frames += event.frame;
    return frames;
  }

  private keep(event: SseEvent): void {
    const capacity = this.ring.length;
    if (this.ringSize < capacity) {
      this.ring[(this.ringStart + this.ringSize) % capacity] = event;
      this.ringSize++;
    } else {
      const evicted = this.ring[this.ringStart]!;
      this.lostId = Math.max(this.lostId, evicted.id);
      if (evicted.seq !== undefined) this.lostSeq = Math.max(this.lostSeq, evicted.seq);
      this.ring[this.ringStart] = event;
      this.ringStart = (this.ringStart + 1) % capacity;
    }
  }

  private write(client: Client, chunk: string): void {
    const { res } = client;
    if (res.writableEnded || res.destroyed) return;
    // A client with nothing queued always takes the chunk (a batch may be larger than the bound on its own),
    // so what one client holds stays under the bound plus one chunk.
    if (res.writableLength > 0 && res.writableLength + chunk.length > this.maxBufferedBytes) {
      if (this.options.whenBehind === 'skip') {
        // Frames are whole, so skipping one keeps the stream well-formed; the client misses entries instead
        // of making us buffer them. One that never drains would hold its slot forever: it goes after a while.
        this.skipped++;
        const now = Date.now();
        client.behindSince ??= now;
        if (now - client.behindSince < STALL_MS) return;
      }
      // The client stopped reading: drop it rather than buffer without bound. EventSource will reconnect
      // with Last-Event-ID if it comes back, and get a replay or a resync.
      this.detach(client);
      this.dropped++;
      this.options.logger.warn({ buffered: res.writableLength }, 'cliente SSE lento desconectado');
      res.destroy();
      return;
    }
    client.behindSince = undefined;
    res.write(chunk);
  }

  private ping(): void {
    for (const client of this.clients) this.write(client, ': ping\n\n');
    this.recheckAll();
  }

  /**
   * Ends the streams whose `recheck` says no; one question per owner per heartbeat. A question that fails or takes
   * longer than a heartbeat (storage away) keeps its streams open until the next one, and the round logs one warning.
   */
  private recheckAll(): void {
    const asked = new Map<string | Client, Promise<boolean>>();
    for (const client of this.clients) {
      if (!client.recheck || client.checking) continue;
      const key = client.owner ?? client;
      let answer = asked.get(key);
      if (!answer) asked.set(key, (answer = within(Promise.resolve().then(client.recheck), this.options.heartbeatMs)));
      client.checking = true;
      answer.then(
        (allowed) => {
          client.checking = false;
          if (!allowed && this.clients.has(client)) {
            this.detach(client);
            client.res.end();
          }
        },
        () => {
          client.checking = false;
        },
      );
    }
    if (asked.size === 0) return;
    void Promise.allSettled(asked.values()).then((answers) => {
      const failed = answers.filter((a): a is PromiseRejectedResult => a.status === 'rejected');
      if (failed.length > 0) {
        this.options.logger.warn({ err: failed[0]!.reason, sessoes: failed.length }, 'não foi possível conferir sessões de fluxos de eventos; eles continuam abertos');
      }
    });
  }
}

/** `promise`, or a rejection once `ms` pass without it settling. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`sem resposta em ${ms} ms`)), ms).unref();
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function matches(client: Client, topic: string | undefined): boolean {
  return client.topic === undefined || topic === undefined || client.topic === topic;
}
