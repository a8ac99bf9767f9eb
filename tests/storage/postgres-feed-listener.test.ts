import net from 'node:net';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { FeedListener } from '../../src/infra/storage/postgres/feed-listener.js';
import { migrate } from '../../src/infra/storage/postgres/migrations.js';
import { createPool } from '../../src/infra/storage/postgres/pool.js';
import { queryRows } from '../../src/infra/storage/postgres/query.js';
import { FEED_CHANNEL } from '../../src/infra/storage/postgres/schema.js';
import { throwawayCluster } from '../helpers/cluster.js';
import { silentLogger } from '../helpers/logger.js';
import { skipWithoutPostgres } from '../helpers/postgres.js';

/**
 * A TCP proxy to the database whose path can hang, as a half-open load balancer or proxy, or a dropped route, does:
 * `hang()` stops forwarding on the connections it holds (without closing them: nothing tells either end) — or, with
 * `{ cut: true }`, closes them — and accepts new connections without ever answering; `heal()` forwards new
 * connections again (the hung ones stay hung).
 */
async function hangingProxy(target: URL, { afterStartup = false } = {}) {
  let hanging = false;
  const sockets = new Set<net.Socket>();
  const forwarding = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('error', () => undefined);
    if (hanging) return;
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    if (afterStartup) {
      // The connection is made and signed in (trust: the client's first message is all it sends), then the path
      // hangs: nothing the client sends afterwards arrives.
      client.once('data', (startup: Buffer) => upstream.write(startup));
    } else {
      client.pipe(upstream);
    }
    upstream.pipe(client);
    forwarding.add({ client, upstream });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(target.toString());
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as net.AddressInfo).port);
  return {
    url: url.toString(),
    hang({ cut = false } = {}): void {
      hanging = true;
      for (const pair of forwarding) {
        if (cut) {
          pair.client.destroy();
        } else {
          pair.client.unpipe(pair.upstream);
          pair.upstream.unpipe(pair.client);
          pair.client.on('data', () => undefined);
          pair.upstream.on('data', () => undefined);
        }
      }
      forwarding.clear();
    },
    heal(): void {
      hanging = false;
    },
    async close(): Promise<void> {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe.skipIf(skipWithoutPostgres())('PostgreSQL: connections on a path that hangs', () => {
  const c = throwawayCluster();
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  for (const cut of [false, true]) {
    it(`when the path to the database hangs (${cut ? 'held connections closed' : 'held connections silent'}, new ones never answered) and then heals, then notifications reach the process again, without a restart`, async () => {
      const url = await c.database('escuta');
      const proxy = await hangingProxy(new URL(url));
      cleanups.push(() => proxy.close());
      const heard: string[] = [];
      const listener = new FeedListener({
        url: proxy.url, applicationName: 'escuta', logger: silentLogger, heartbeatMs: 300, answerTimeoutMs: 500,
        onWake: (origin) => heard.push(origin ?? '(reconectado)'),
      });
      await listener.start();
      cleanups.push(() => listener.stop());
      const notifier = new pg.Client({ connectionString: url });
      await notifier.connect();
      cleanups.push(() => notifier.end());
      const notify = (payload: string) => notifier.query('SELECT pg_notify($1, $2)', [FEED_CHANNEL, payload]);

      await notify('antes');
      await expect.poll(() => heard.includes('antes'), { timeout: 5_000 }).toBe(true);

      proxy.hang({ cut });
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      proxy.heal();
      // Before the fix: a silent connection was never found out, and a connection attempt on the hung path never
      // settled, so no other was ever made: nothing was heard again until a restart.
      await expect
        .poll(
          async () => {
            await notify('depois');
            return heard.includes('depois');
          },
          { timeout: 10_000, interval: 250 },
        )
        .toBe(true);
    }, 60_000);
  }

  it('when the path hangs just after a new pooled connection signs in, then the query asking for it fails within the connect timeout instead of holding a pooled connection for good', async () => {
    const url = await c.database('sessao_presa');
    const proxy = await hangingProxy(new URL(url), { afterStartup: true });
    cleanups.push(() => proxy.close());
    const pool = createPool({ url: proxy.url, max: 2, connectTimeoutMs: 500, logger: silentLogger });
    cleanups.push(() => pool.end());
    const started = performance.now();
    // The session's settings go first on a new connection, and are never answered.
    await expect(pool.query('SELECT 1')).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(pool.totalCount).toBe(0);
  }, 60_000);

  it('when the path hangs under open pooled connections, then a statement fails within the query timeout, its connection is dropped, and statements work again once the path heals', async () => {
    const url = await c.database('consulta_presa');
    const proxy = await hangingProxy(new URL(url));
    cleanups.push(() => proxy.close());
    const pool = createPool({ url: proxy.url, max: 2, connectTimeoutMs: 500, queryTimeoutMs: 700, logger: silentLogger });
    cleanups.push(() => pool.end());
    expect((await pool.query('SELECT 1 AS um')).rows).toEqual([{ um: 1 }]);
    expect(pool.idleCount).toBe(1);

    proxy.hang();
    const started = performance.now();
    // Before the fix: the statement waited for TCP to give up (never, here: the proxy acknowledges what it holds).
    await expect(pool.query('SELECT 2')).rejects.toThrow(/Query read timeout/);
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(pool.totalCount).toBe(0);

    proxy.heal();
    expect((await pool.query('SELECT 3 AS tres')).rows).toEqual([{ tres: 3 }]);
  }, 60_000);

  it('when a migration statement runs longer than the query timeout, then it is not cut (migrations get the long answer time), while a request statement is', async () => {
    const url = await c.database('migracao_longa');
    const pool = createPool({ url, max: 2, queryTimeoutMs: 300, logger: silentLogger });
    cleanups.push(() => pool.end());
    await expect(pool.query('SELECT pg_sleep(0.8)')).rejects.toThrow(/Query read timeout/);
    const slow = { name: '0001_lenta', sql: 'CREATE TABLE lenta AS SELECT 1 AS x FROM pg_sleep(0.8)' };
    expect(await migrate(pool, silentLogger, [slow])).toEqual(['0001_lenta']);
    expect((await pool.query('SELECT x FROM lenta')).rows).toEqual([{ x: 1 }]);
  }, 60_000);

  it('when a statement is slower than the query timeout, then it is not sent again: it still runs in the database, so a retry would run it twice', async () => {
    const url = await c.database('sem_repeticao');
    const pool = createPool({ url, max: 2, queryTimeoutMs: 300, logger: silentLogger });
    cleanups.push(() => pool.end());
    await pool.query('CREATE SEQUENCE vezes');
    await expect(queryRows(pool, "SELECT nextval('vezes'), pg_sleep(0.6)")).rejects.toThrow();
    // Before: tried three times on fresh connections, each copy running to its end.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    cleanups.push(() => admin.end());
    expect((await admin.query<{ n: string }>('SELECT last_value AS n FROM vezes')).rows[0]!.n).toBe('1');
  }, 60_000);
});
