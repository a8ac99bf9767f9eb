import { EventEmitter } from 'node:events';
import type { Request, Response } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { SseBroker } from '../../src/infra/sse-broker.js';
import type { FeedPosition } from '../../src/repositories/port.js';
import { silentLogger } from '../helpers/logger.js';

/**
 * The broker's ids when they come from a feed position shared by every process (PostgreSQL's `seq`): a client
 * that heard events of one process resumes on another with `Last-Event-ID`. Here the feed is a value the test
 * moves by hand, as the PostgreSQL change feed would while it delivers commits.
 */

/** Just enough of a request and a response for `connect`: what the broker writes, as SSE messages. */
function fakeStream(): { req: Request; res: Response; events(): { id?: string; event: string; data: string }[] } {
  const req = new EventEmitter() as unknown as Request;
  let written = '';
  const res = Object.assign(new EventEmitter(), {
    writableEnded: false,
    destroyed: false,
    writableLength: 0,
    writeHead: () => res,
    write: (chunk: string) => ((written += chunk), true),
    end: () => undefined,
    destroy: () => undefined,
  }) as unknown as Response;
  const events = () =>
    written
      .split('\n\n')
      .filter((block) => block.includes('event: '))
      .map((block) => {
        const fields = Object.fromEntries(block.split('\n').map((line) => [line.slice(0, line.indexOf(': ')), line.slice(line.indexOf(': ') + 2)]));
        return { id: fields.id, event: fields.event!, data: fields.data! };
      });
  return { req, res, events };
}

describe('SseBroker with a shared feed position', () => {
  const brokers: SseBroker[] = [];
  afterEach(() => {
    for (const broker of brokers.splice(0)) broker.close();
  });

  /** A broker whose process started reading the feed at `start`; `at` moves its position. */
  function broker(start: number, replay = 100) {
    let position: FeedPosition = { watermark: start, highest: start };
    const b = new SseBroker({ logger: silentLogger, heartbeatMs: 60_000, replay, position: () => position });
    brokers.push(b);
    return {
      broker: b,
      at(next: FeedPosition) {
        position = next;
      },
      resume(lastEventId: string) {
        const stream = fakeStream();
        b.connect(stream.req, stream.res, { lastEventId });
        return stream.events().map((e) => e.event);
      },
    };
  }

  it('when a client resumes, then every event of a change after its watermark is replayed, and the local events it may have missed, each state at its latest only', () => {
    const b = broker(10);
    const reservado = b.broker.publish('reservado-local', {}, undefined, 'horario 1');
    // Its own commit (seq 12) is delivered ahead of the reader, which has delivered up to 10.
    b.at({ watermark: 10, seq: 12, highest: 12 });
    const own = b.broker.publish('ocupado-12', {});
    // Then the reader delivers another process's commit 11, and stands at 12.
    b.at({ watermark: 10, seq: 11, highest: 12 });
    b.broker.publish('ocupado-11', {});
    b.at({ watermark: 12, highest: 12 });
    const after = b.broker.publish('liberado-local', {}, undefined, 'horario 1');
    expect(reservado).toBe(10_000_000);
    expect([own, after]).toEqual([10_000_001, 12_000_000]);

    // A client of process A had heard everything up to 11: it missed 12. It may have missed this process's local
    // events too (A's position is not B's): of slot 1 it gets the latest state, the release, not the reservation.
    expect(b.resume(String(11_000_004))).toEqual(['ocupado-12', 'liberado-local']);
    // One that had heard up to 10 missed both commits.
    expect(b.resume(String(10_000_007))).toEqual(['ocupado-12', 'ocupado-11', 'liberado-local']);
    // B's own client, resuming right after the reservation, hears the rest (12 again is harmless: a state).
    expect(b.resume(String(reservado))).toEqual(['ocupado-12', 'ocupado-11', 'liberado-local']);
  });

  it('when a client resumes with the id of a process whose position ran ahead, then local events this process numbered lower still reach it', () => {
    // Process A's own commit (seq 21) moved B's reader to 21; A's position stays at 20 until A reads the feed itself.
    const a = broker(20);
    a.broker.publish('horario_reservado', {}, undefined, 'horario ana');
    a.broker.publish('horario_reservado', {}, undefined, 'horario diego');
    // The client, on B, heard both reservations as B's events 21_000_000 and 21_000_001, then lost its connection.
    // Diego's booking fails (the paciente is taken): A releases the slot. Ana's commits (seq 22).
    a.broker.publish('horario_disponivel', {}, undefined, 'horario diego');
    a.at({ watermark: 20, seq: 22, highest: 22 });
    a.broker.publish('horario_ocupado', {}, undefined, 'horario ana');
    a.at({ watermark: 22, highest: 22 });
    // Before, only ids above 21_000_001 or seqs above 21 were sent: Diego's slot stayed `reservado` on that screen.
    expect(a.resume(String(21_000_001))).toEqual(['horario_disponivel', 'horario_ocupado']);
  });

  it('when the client\'s id is one this process also numbered (two processes at one watermark number alike), then its local states still reach it', () => {
    // A and B both stand at 20. B's client last heard B's 20_000_001; A numbered its own two events alike.
    const a = broker(20);
    expect(a.broker.publish('horario_reservado', {}, undefined, 'horario x')).toBe(20_000_000);
    expect(a.broker.publish('horario_disponivel', {}, undefined, 'horario x')).toBe(20_000_001);
    a.broker.publish('vaga_disponivel', {});
    // The slot's latest state, and the notice numbered after the id; nothing else.
    expect(a.resume(String(20_000_001))).toEqual(['horario_disponivel', 'vaga_disponivel']);
    expect(a.resume(String(20_000_002))).toEqual(['horario_disponivel']);
  });

  it('when the client missed changes this process never kept, then it is told to resync', () => {
    const b = broker(10, 2);
    b.at({ watermark: 10, seq: 11, highest: 11 });
    b.broker.publish('ocupado-11', {});
    b.at({ watermark: 11, seq: 12, highest: 12 });
    b.broker.publish('ocupado-12', {});
    // From before this process started reading the feed.
    expect(b.resume(String(9_000_000))).toEqual(['resync']);
    // An id beyond anything this process has heard of (another database's, or made up).
    expect(b.resume(String(13_000_000))).toEqual(['resync']);
    expect(b.resume('nao-e-um-id')).toEqual(['resync']);
    // Evicted from the ring: 11 is gone, so a client at 10 cannot be caught up; one at 11 still can.
    b.at({ watermark: 12, seq: 13, highest: 13 });
    b.broker.publish('ocupado-13', {});
    expect(b.resume(String(10_000_000))).toEqual(['resync']);
    expect(b.resume(String(11_000_000))).toEqual(['ocupado-12', 'ocupado-13']);
  });

  it('when the position goes backwards (the database was replaced), then ids still increase', () => {
    const b = broker(50);
    const first = b.broker.publish('a', {});
    b.at({ watermark: 3, highest: 50 });
    const second = b.broker.publish('b', {});
    expect(second).toBeGreaterThan(first);
  });
});
