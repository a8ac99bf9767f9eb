import { EventEmitter } from 'node:events';
import type { Request, Response } from 'express';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../../src/core/logger.js';
import { SseBroker } from '../../src/infra/sse-broker.js';
import { silentLogger } from '../helpers/logger.js';

/**
 * The broker's heartbeat question (`connect`'s `recheck`): whether whoever opened a stream may still read it. Fake
 * timers drive the heartbeats; the streams are just enough of a request and a response for `connect`.
 */
function fakeStream(method = 'GET'): { req: Request; res: Response; ended: () => boolean } {
  const req = Object.assign(new EventEmitter(), { method }) as unknown as Request;
  let ended = false;
  const res = Object.assign(new EventEmitter(), {
    writableEnded: false,
    destroyed: false,
    writableLength: 0,
    writeHead: () => res,
    write: () => true,
    end: () => {
      ended = true;
      return res;
    },
    destroy: () => undefined,
  }) as unknown as Response;
  return { req, res, ended: () => ended };
}

const HEARTBEAT_MS = 1000;

describe('SseBroker: streams checked at every heartbeat', () => {
  const brokers: SseBroker[] = [];
  afterEach(() => {
    for (const b of brokers.splice(0)) b.close();
    vi.useRealTimers();
  });

  function broker(logger: Logger = silentLogger): SseBroker {
    vi.useFakeTimers();
    const b = new SseBroker({ logger, heartbeatMs: HEARTBEAT_MS, replay: 10 });
    brokers.push(b);
    return b;
  }

  it('when the check says no, then the stream ends at the next heartbeat and frees its place; while it says yes, the stream stays', async () => {
    const b = broker();
    let allowed = true;
    const s = fakeStream();
    b.connect(s.req, s.res, { owner: 'sessao-1', recheck: async () => allowed });
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS * 3);
    expect(s.ended()).toBe(false);
    allowed = false;
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    expect(s.ended()).toBe(true);
    expect(b.clientCount).toBe(0);
    expect(b.ownerCount('sessao-1')).toBe(0);
  });

  it('when one session holds several streams, then each heartbeat asks once for all of them, and a no ends them all', async () => {
    const b = broker();
    const check = vi.fn(async () => true);
    const streams = [fakeStream(), fakeStream(), fakeStream()];
    for (const s of streams) b.connect(s.req, s.res, { owner: 'sessao-1', recheck: check });
    const other = fakeStream();
    b.connect(other.req, other.res, { owner: 'sessao-2', recheck: async () => true });
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS * 2);
    expect(check).toHaveBeenCalledTimes(2);
    check.mockResolvedValue(false);
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    expect(streams.every((s) => s.ended())).toBe(true);
    expect(other.ended()).toBe(false);
  });

  it('when the check fails, throws at once or never answers, then the stream stays open, one warning per heartbeat, and it is asked again', async () => {
    const warn = vi.fn();
    const b = broker({ ...silentLogger, warn } as unknown as Logger);
    const failing = fakeStream();
    const throwing = fakeStream();
    const silent = fakeStream();
    let asked = 0;
    b.connect(failing.req, failing.res, { owner: 'a', recheck: () => Promise.reject(new Error('banco fora do ar')) });
    b.connect(throwing.req, throwing.res, {
      owner: 'b',
      recheck: () => {
        throw new Error('falhou antes de começar');
      },
    });
    b.connect(silent.req, silent.res, {
      owner: 'c',
      recheck: () => {
        asked++;
        return new Promise<boolean>(() => undefined);
      },
    });
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS * 4);
    expect([failing, throwing, silent].some((s) => s.ended())).toBe(false);
    expect(b.clientCount).toBe(3);
    // The one that never answers is given up after a heartbeat and asked again.
    expect(asked).toBeGreaterThanOrEqual(2);
    expect(warn.mock.calls.length).toBeGreaterThanOrEqual(3);
    expect(warn.mock.calls.length).toBeLessThanOrEqual(4);
    expect(warn.mock.calls[0]![0]).toMatchObject({ sessoes: expect.any(Number) });
  });

  it('when a client leaves while its check is on the way, then the late answer changes nothing', async () => {
    const b = broker();
    let answer!: (allowed: boolean) => void;
    const s = fakeStream();
    b.connect(s.req, s.res, { owner: 'x', recheck: () => new Promise<boolean>((resolve) => (answer = resolve)) });
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    s.req.emit('close');
    expect(b.clientCount).toBe(0);
    answer(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(s.ended()).toBe(false);
    expect(b.ownerCount('x')).toBe(0);
  });

  it('when a stream is asked with HEAD, then it is answered and held by nobody, past any cap', async () => {
    const b = new SseBroker({ logger: silentLogger, heartbeatMs: HEARTBEAT_MS, replay: 10, maxClients: 0 });
    brokers.push(b);
    const s = fakeStream('HEAD');
    b.connect(s.req, s.res, { owner: 'x' });
    expect(s.ended()).toBe(true);
    expect(b.clientCount).toBe(0);
  });
});
