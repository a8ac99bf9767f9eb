import { hash } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { StorageUnavailableError } from '../../src/core/errors.js';
import { MemoryLimits } from '../../src/infra/storage/json/limits.js';
import { PgLimits } from '../../src/infra/storage/postgres/limits.js';
import { PgStorage } from '../../src/infra/storage/postgres/pg-storage.js';
import { LIMITS_MAX_KEYS, type Limits } from '../../src/repositories/limits.js';
import { silentLogger } from '../helpers/logger.js';
import { throwawayCluster } from '../helpers/cluster.js';
import { createDatabase, skipWithoutPostgres } from '../helpers/postgres.js';

/**
 * The abuse-limit counters (`repositories/limits.ts`), one suite for both implementations: in memory (JSON driver)
 * and in PostgreSQL. `twin` is what another process sees: for PostgreSQL a second PgLimits on its own pool over
 * the same database; for memory the same object (one process is all it serves).
 */
interface Fixture {
  limits: Limits;
  twin: Limits;
}

const T0 = Date.parse('2026-11-30T15:00:00Z');
const WINDOW = 15 * 60_000;

function describeLimitsContract(name: string, make: () => Promise<Fixture>): void {
  describe(name, () => {
    it('when attempts come, then up to max are counted, oldest first, and the next is refused without being counted', async () => {
      const { limits } = await make();
      for (let i = 0; i < 3; i++) {
        const a = await limits.failures.attempt('rita@clinica.local', T0 + i * 1000, WINDOW, 3);
        expect(a).toEqual({ admitted: true, failures: Array.from({ length: i + 1 }, (_, k) => T0 + k * 1000) });
      }
      const refused = await limits.failures.attempt('rita@clinica.local', T0 + 5000, WINDOW, 3);
      expect(refused).toEqual({ admitted: false, failures: [T0, T0 + 1000, T0 + 2000] });
      expect(await limits.failures.since('rita@clinica.local', T0 - 1)).toEqual([T0, T0 + 1000, T0 + 2000]);
      expect(await limits.failures.since('rita@clinica.local', T0)).toEqual([T0 + 1000, T0 + 2000]);
      // Another key is another account.
      expect((await limits.failures.attempt('ana@clinica.local', T0 + 5000, WINDOW, 3)).admitted).toBe(true);
    });

    it('when the oldest failure leaves the window, then one more attempt is admitted; when cleared, all are', async () => {
      const { limits } = await make();
      for (let i = 0; i < 3; i++) await limits.failures.attempt('k', T0 + i * 60_000, WINDOW, 3);
      // The window is (now − window, now]: the failure at T0 is inside it until T0 + window.
      expect((await limits.failures.attempt('k', T0 + WINDOW - 1, WINDOW, 3)).admitted).toBe(false);
      const later = await limits.failures.attempt('k', T0 + WINDOW, WINDOW, 3);
      expect(later).toEqual({ admitted: true, failures: [T0 + 60_000, T0 + 120_000, T0 + WINDOW] });
      await limits.failures.clear('k');
      expect(await limits.failures.since('k', 0)).toEqual([]);
      expect(await limits.failures.attempt('k', T0 + WINDOW + 2, WINDOW, 3)).toEqual({ admitted: true, failures: [T0 + WINDOW + 2] });
    });

    it('when attempts on one key arrive all at once (from two processes), then exactly max are admitted', async () => {
      const { limits, twin } = await make();
      const results = await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 ? twin : limits).failures.attempt('alvo', T0 + i, WINDOW, 5)));
      expect(results.filter((r) => r.admitted)).toHaveLength(5);
      expect(await limits.failures.since('alvo', 0)).toHaveLength(5);
      // Cleared by one process, cleared for the other.
      await twin.failures.clear('alvo');
      expect((await limits.failures.attempt('alvo', T0 + 100, WINDOW, 5)).failures).toEqual([T0 + 100]);
    });

    it('when hits come in a window, then they count up from its start; after it, or with the clock a window back, a new one opens', async () => {
      const { limits, twin } = await make();
      expect(await limits.windows.hit('sessao', T0, 60_000)).toEqual({ count: 1, start: T0 });
      expect(await twin.windows.hit('sessao', T0 + 30_000, 60_000)).toEqual({ count: 2, start: T0 });
      expect(await limits.windows.hit('sessao', T0 + 59_999, 60_000)).toEqual({ count: 3, start: T0 });
      expect(await limits.windows.hit('outra', T0 + 59_999, 60_000)).toEqual({ count: 1, start: T0 + 59_999 });
      expect(await twin.windows.hit('sessao', T0 + 60_000, 60_000)).toEqual({ count: 1, start: T0 + 60_000 });
      // A clock a little behind (another host) counts in the same window; one a whole window behind starts over.
      expect(await limits.windows.hit('sessao', T0 + 59_000, 60_000)).toEqual({ count: 2, start: T0 + 60_000 });
      expect(await limits.windows.hit('sessao', T0, 60_000)).toEqual({ count: 1, start: T0 });
    });

    it('when hits of one key arrive all at once (from two processes), then each count is handed out once', async () => {
      const { limits, twin } = await make();
      const hits = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? twin : limits).windows.hit('s', T0 + i, 60_000)));
      expect(hits.map((h) => h.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      expect(new Set(hits.map((h) => h.start)).size).toBe(1);
    });

    it('when swept after their windows, then failures and windows are forgotten; those still inside stay', async () => {
      const { limits } = await make();
      await limits.failures.attempt('velha', T0, WINDOW, 5);
      await limits.failures.attempt('nova', T0 + WINDOW, WINDOW, 5);
      await limits.windows.hit('velha', T0, 60_000);
      await limits.windows.hit('nova', T0 + WINDOW, 60_000);
      await limits.sweep(T0 + WINDOW + 1);
      expect(await limits.failures.since('velha', 0)).toEqual([]);
      expect(await limits.failures.since('nova', 0)).toEqual([T0 + WINDOW]);
      // The old window was deleted (a hit now starts at 1 even with a clock that had not passed its end).
      expect(await limits.windows.hit('velha', T0 + 1, 60_000)).toEqual({ count: 1, start: T0 + 1 });
      expect(await limits.windows.hit('nova', T0 + WINDOW + 1, 60_000)).toEqual({ count: 2, start: T0 + WINDOW });
    });
  });
}

describeLimitsContract('MemoryLimits (JSON driver)', async () => {
  const limits = new MemoryLimits();
  return { limits, twin: limits };
});

describe('MemoryLimits bounds', () => {
  it(`when more than ${LIMITS_MAX_KEYS} keys are counted, then the least recently counted are forgotten first`, async () => {
    const limits = new MemoryLimits();
    await limits.failures.attempt('primeira', T0, WINDOW, 5);
    await limits.failures.attempt('segunda', T0, WINDOW, 5);
    for (let i = 0; i < LIMITS_MAX_KEYS - 2; i++) await limits.failures.attempt(`k${i}`, T0, WINDOW, 5);
    // Counted again: now the newest, so 'segunda' is the oldest.
    await limits.failures.attempt('primeira', T0 + 1, WINDOW, 5);
    await limits.failures.attempt('mais-uma', T0 + 2, WINDOW, 5);
    expect(limits.size.failures).toBe(LIMITS_MAX_KEYS);
    expect(await limits.failures.since('segunda', 0)).toEqual([]);
    expect(await limits.failures.since('primeira', 0)).toEqual([T0, T0 + 1]);
    for (let i = 0; i < LIMITS_MAX_KEYS + 5; i++) await limits.windows.hit(`s${i}`, T0, 60_000);
    expect(limits.size.windows).toBe(LIMITS_MAX_KEYS);
  });

  it('when a minute of the callers\' clock passes, then a call sweeps what expired by itself', async () => {
    const limits = new MemoryLimits();
    await limits.windows.hit('a', T0, 60_000);
    await limits.failures.attempt('b', T0, 60_000, 5);
    expect(limits.size).toEqual({ failures: 1, windows: 1 });
    await limits.windows.hit('c', T0 + 60_000, 60_000);
    expect(limits.size).toEqual({ failures: 0, windows: 1 });
  });
});

describe.skipIf(skipWithoutPostgres())('PgLimits (throwaway cluster)', () => {
  const pg15 = throwawayCluster();
  let databases = 0;
  let template: Promise<void> | undefined;

  /** A fresh database with the app's schema (a copy of one migrated once). */
  async function freshDatabase(): Promise<string> {
    template ??= (async () => {
      const url = await createDatabase(pg15.cluster.url, 'modelo_limites');
      const storage = new PgStorage({ url, logger: silentLogger, poolMax: 1 });
      await storage.open();
      await storage.close();
    })();
    await template;
    return createDatabase(pg15.cluster.url, `limites_${++databases}`, { template: 'modelo_limites' });
  }

  const poolOn = (url: string): pg.Pool => {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    pg15.track({ close: () => pool.end() });
    return pool;
  };

  async function pair(options: { maxKeys?: number } = {}): Promise<Fixture & { pool: pg.Pool }> {
    const url = await freshDatabase();
    const pool = poolOn(url);
    return { pool, limits: new PgLimits({ pool, logger: silentLogger, ...options }), twin: new PgLimits({ pool: poolOn(url), logger: silentLogger, ...options }) };
  }

  describeLimitsContract('PgLimits', () => pair());

  it('when a key is counted, then the tables hold its SHA-256, never the e-mail, and they are UNLOGGED', async () => {
    const { limits, pool } = await pair();
    await limits.failures.attempt('Rita.Ção@clínica.local', T0, WINDOW, 5);
    await limits.windows.hit('escritas:abc', T0, 60_000);
    const falhas = await pool.query<{ chave: string; linha: string }>('SELECT chave, f::text AS linha FROM limites_falhas f');
    expect(falhas.rows.map((r) => r.chave)).toEqual([hash('sha256', 'Rita.Ção@clínica.local', 'hex')]);
    expect(falhas.rows[0]!.linha).not.toMatch(/rita|cl[ií]nica/i);
    const janelas = await pool.query<{ chave: string }>('SELECT chave FROM limites_janelas');
    expect(janelas.rows.map((r) => r.chave)).toEqual([hash('sha256', 'escritas:abc', 'hex')]);
    const persistence = await pool.query<{ relname: string; relpersistence: string }>(
      "SELECT relname, relpersistence FROM pg_class WHERE relname IN ('limites_falhas', 'limites_janelas') ORDER BY relname",
    );
    expect(persistence.rows).toEqual([
      { relname: 'limites_falhas', relpersistence: 'u' },
      { relname: 'limites_janelas', relpersistence: 'u' },
    ]);
  });

  it('when more keys than the bound have failures, then a sweep keeps the bound, dropping those that expire first', async () => {
    const { limits, pool } = await pair({ maxKeys: 3 });
    for (let i = 0; i < 5; i++) await limits.failures.attempt(`k${i}`, T0 + i, WINDOW, 5);
    await limits.sweep(T0 + 10);
    const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM limites_falhas');
    expect(Number(rows[0]!.n)).toBe(3);
    expect(await limits.failures.since('k0', 0)).toEqual([]);
    expect(await limits.failures.since('k1', 0)).toEqual([]);
    expect(await limits.failures.since('k4', 0)).toEqual([T0 + 4]);
  });

  it('when a minute of the callers\' clock passes, then a call sweeps the expired rows by itself, off its own path', async () => {
    const { limits, pool } = await pair();
    await limits.windows.hit('a', T0, 60_000);
    await limits.failures.attempt('b', T0, 60_000, 5);
    await limits.close(); // the first call's sweep (at T0) is done
    await limits.windows.hit('c', T0 + 61_000, 60_000);
    await limits.close(); // waits for the sweep that call started
    const { rows } = await pool.query<{ falhas: string; janelas: string }>(
      'SELECT (SELECT count(*) FROM limites_falhas) AS falhas, (SELECT count(*) FROM limites_janelas) AS janelas',
    );
    expect(rows[0]).toEqual({ falhas: '0', janelas: '1' });
  });

  it('when the database cannot be reached, then every call fails with StorageUnavailableError (503), none passes', async () => {
    const url = new URL(pg15.cluster.url);
    url.port = '1';
    const limits = new PgLimits({ pool: poolOn(url.toString()), logger: silentLogger });
    await expect(limits.failures.attempt('k', T0, WINDOW, 5)).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(limits.failures.since('k', 0)).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(limits.failures.clear('k')).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(limits.windows.hit('k', T0, 60_000)).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(limits.sweep(T0)).rejects.toBeInstanceOf(StorageUnavailableError);
    await limits.close();
  });
});
