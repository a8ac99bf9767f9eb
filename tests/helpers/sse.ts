import type { Express } from 'express';
import type { AddressInfo } from 'node:net';
import { createHttpServer } from '../../src/http/http-server.js';

export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

/** Serves an app on a free loopback port. */
export async function listen(app: Express): Promise<{ url: string; close(): Promise<void> }> {
  const server = createHttpServer(app).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A minimal text/event-stream reader over fetch: it records messages, `retry:` and comment lines as a
 * browser would see them, so tests can wait for what they expect.
 */
export async function openStream(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  let retry: number | undefined;
  let ended = false;
  const waiters: (() => void)[] = [];
  const notify = () => {
    for (const w of waiters.splice(0)) w();
  };

  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let cut;
        while ((cut = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const message: SseMessage = { event: 'message', data: '' };
          let isMessage = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('retry: ')) retry = Number(line.slice(7));
            else if (line.startsWith('id: ')) message.id = line.slice(4);
            else if (line.startsWith('event: ')) {
              message.event = line.slice(7);
              isMessage = true;
            } else if (line.startsWith('data: ')) {
              message.data += line.slice(6);
              isMessage = true;
            }
          }
          if (isMessage) messages.push(message);
        }
        notify();
      }
    } catch {
      // aborted
    } finally {
      ended = true;
      notify();
    }
  })();

  return {
    response,
    messages,
    comments,
    get retry() {
      return retry;
    },
    get ended() {
      return ended;
    },
    /** Waits until `predicate` holds (or fails after `timeoutMs`). */
    async until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (ended) throw new Error(`stream ended; messages: ${JSON.stringify(messages)}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out; messages: ${JSON.stringify(messages)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    close: () => controller.abort(),
  };
}
