import type { Request, Response } from 'express';
import type { Logger } from '../core/logger.js';

/** One event as kept for replay. */
interface SseEvent {
  id: number;
  /** The frame, ready to write. */
  frame: string;
  /** Clients subscribed to a topic get its events; clients without one get all. */
  topic: string | undefined;
}

interface Client {
  res: Response;
  topic: string | undefined;
}

export interface SseBrokerOptions {
  logger: Logger;
  heartbeatMs: number;
  /** Events kept for `Last-Event-ID` replay. */
  replay: number;
  /** A client whose unsent data passes this many bytes has stopped reading and is dropped. */
  maxBufferedBytes?: number;
  retryMs?: number;
}

/**
 * Server-Sent Events transport: it knows connections, frames and buffers, and nothing of the domain.
 * Publishers hand it `(event, data, topic)`; it numbers each event, keeps the last `replay` of them in a
 * ring for reconnecting clients, and writes the frame to every matching client.
 *
 * Memory stays bounded however clients behave: the ring has a fixed size, and a client that stops reading
 * (its socket's unsent bytes, `writableLength`, pass `maxBufferedBytes`) is disconnected instead of being
 * buffered for without end.
 */
export class SseBroker {
  private nextId: number;
  private readonly ring: (SseEvent | undefined)[];
  private ringStart = 0;
  private ringSize = 0;
  private readonly clients = new Set<Client>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly maxBufferedBytes: number;
  private readonly retryMs: number;
  private dropped = 0;

  constructor(private readonly options: SseBrokerOptions) {
    // Ids keep increasing across restarts (they start from the clock), so an id from before a restart is
    // recognised as older than the buffer and answered with `resync`, never confused with a new event.
    this.nextId = Date.now() * 1000;
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

  /** Numbers, keeps and sends an event. */
  publish(event: string, data: unknown, topic?: string): number {
    const id = this.nextId++;
    const frame = `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    this.keep({ id, frame, topic });
    for (const client of this.clients) {
      if (matches(client, topic)) this.write(client, frame);
    }
    return id;
  }

  /** Turns a request into an event stream: headers, `retry`, replay or `resync`, then live events. */
  connect(req: Request, res: Response, options: { topic?: string | undefined; lastEventId?: string | undefined }): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    const client: Client = { res, topic: options.topic };
    this.clients.add(client);
    const remove = () => this.clients.delete(client);
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
  }

  private replayAfter(lastEventId: string, topic: string | undefined): string {
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

  private keep(event: SseEvent): void {
    const capacity = this.ring.length;
    if (this.ringSize < capacity) {
      this.ring[(this.ringStart + this.ringSize) % capacity] = event;
      this.ringSize++;
    } else {
      this.ring[this.ringStart] = event;
      this.ringStart = (this.ringStart + 1) % capacity;
    }
  }

  private write(client: Client, chunk: string): void {
    const { res } = client;
    if (res.writableEnded || res.destroyed) return;
    if (res.writableLength + chunk.length > this.maxBufferedBytes) {
      // The client stopped reading: drop it rather than buffer without bound. EventSource will reconnect
      // with Last-Event-ID if it comes back, and get a replay or a resync.
      this.clients.delete(client);
      this.dropped++;
      this.options.logger.warn({ buffered: res.writableLength }, 'cliente SSE lento desconectado');
      res.destroy();
      return;
    }
    res.write(chunk);
  }

  private ping(): void {
    for (const client of this.clients) this.write(client, ': ping\n\n');
  }
}

function matches(client: Client, topic: string | undefined): boolean {
  return client.topic === undefined || topic === undefined || client.topic === topic;
}
