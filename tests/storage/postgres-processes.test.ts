import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PgStorage } from '../../src/infra/storage/postgres/pg-storage.js';
import { SIGNAL_CHANNEL } from '../../src/infra/storage/postgres/schema.js';
import { COLLECTIONS } from '../../src/repositories/collections.js';
import type { Change } from '../../src/repositories/port.js';
import { silentLogger } from '../helpers/logger.js';
import { throwawayCluster } from '../helpers/cluster.js';
import { skipWithoutPostgres } from '../helpers/postgres.js';
import { idempotency, medico, staged } from './port-fixtures.js';

/**
 * Two PgStorage instances on one database, each with its own pool and LISTEN connection: what two server
 * processes see of each other's commits through the change feed.
 */

/** Collects a storage's delivered changes and lets a test wait for a number of them. */
class Heard {
  readonly changes: { change: Change; at: number }[] = [];
  readonly resets: string[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];

  constructor(storage: PgStorage) {
    storage.changes.onCommit((changes) => {
      for (const change of changes) this.changes.push({ change, at: performance.now() });
      this.wake();
    });
    storage.changes.onReset((collection) => {
      this.resets.push(collection);
      this.wake();
    });
  }

  /** Resolves once `n` changes have been heard in all; rejects after `ms`. */
  until(n: number, ms = 5_000): Promise<void> {
    if (this.changes.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`heard ${this.changes.length} of ${n} changes in ${ms} ms`)), ms);
      this.waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  untilResets(n: number, ms = 5_000): Promise<void> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.resets.length >= n) resolve();
        else if (performance.now() - started > ms) reject(new Error(`heard ${this.resets.length} of ${n} resets`));
        else setTimeout(check, 20);
      };
      check();
    });
  }

  private wake(): void {
    const ready = this.waiters.filter((w) => this.changes.length >= w.n);
    this.waiters = this.waiters.filter((w) => this.changes.length < w.n);
    for (const w of ready) w.resolve();
  }
}

describe.skipIf(skipWithoutPostgres())('PostgreSQL driver across processes (throwaway cluster)', () => {
  const pg15 = throwawayCluster();

  /** Two "processes" on a fresh database. Polling is slow (10 s) so that only NOTIFY can explain a quick delivery. */
  async function pair(pollMs = 10_000, feedRetentionMs?: number): Promise<[PgStorage, PgStorage]> {
    const url = await pg15.database('processos');
    const make = async (name: string): Promise<PgStorage> => {
      const storage = new PgStorage({ url, logger: silentLogger, feedPollMs: pollMs, applicationName: name, poolMax: 4, feedRetentionMs });
      await storage.open();
      pg15.track(storage);
      return storage;
    };
    return [await make('processo_a'), await make('processo_b')];
  }

  it("when A commits, then B's listeners hear each change within a second, in commit order, and A's hear it once", async () => {
    const [a, b] = await pair();
    const onA = new Heard(a);
    const onB = new Heard(b);
    const medicos = Array.from({ length: 20 }, () => medico());
    const committedAt: number[] = [];
    for (const m of medicos) {
      await a.run((tx) => tx.medicos.save(m));
      committedAt.push(performance.now());
    }
    await onB.until(20);
    expect(onB.changes.map((h) => h.change.id)).toEqual(medicos.map((m) => m.id));
    expect(onB.changes.map((h) => h.change.after)).toEqual(medicos);
    for (let i = 0; i < medicos.length; i++) expect(onB.changes[i]!.at - committedAt[i]!).toBeLessThan(1_000);
    // A heard its own commits at once, and its reader, catching up, does not deliver them again.
    await a.changes.catchUp();
    expect(onA.changes.map((h) => h.change.id)).toEqual(medicos.map((m) => m.id));
  });

  it("when A commits, then B reads the feed and A does not: A's announcements name A, and A delivered its commits itself", async () => {
    const [a, b] = await pair();
    const onB = new Heard(b);
    const before = { a: a.changes.reads, b: b.changes.reads };
    const medicos = Array.from({ length: 10 }, () => medico());
    for (const m of medicos) await a.run((tx) => tx.medicos.save(m));
    await onB.until(10);
    expect(b.changes.reads).toBeGreaterThan(before.b);
    // Polling is 10 s here: only a notification could have made A read.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(a.changes.reads).toBe(before.a);
  });

  it('when A writes alone and updates its own records, then it never reads the feed for them; when B writes meanwhile, then A reads before delivering an update', async () => {
    const [a, b] = await pair();
    const onA = new Heard(a);
    const m = medico();
    await a.run((tx) => tx.medicos.save(m));
    const before = a.changes.reads;
    for (let i = 0; i < 10; i++) await a.run((tx) => tx.medicos.save({ ...m, nome: `Dra. ${i}` }));
    expect(a.changes.reads).toBe(before);
    expect(onA.changes.map((h) => (h.change.after as unknown as { nome: string }).nome)).toEqual([m.nome, ...Array.from({ length: 10 }, (_, i) => `Dra. ${i}`)]);
    // B changes the record; A's next update of it is heard after B's (A reads B's row first).
    await b.run((tx) => tx.medicos.save({ ...m, nome: 'Dra. B' }));
    await a.run((tx) => tx.medicos.save({ ...m, nome: 'Dra. A' }));
    await onA.until(13);
    expect(onA.changes.slice(-2).map((h) => (h.change.after as unknown as { nome: string }).nome)).toEqual(['Dra. B', 'Dra. A']);
  });

  it('when B is asked to read again and again (a stream of notifications), then catchUp still resolves after one read', async () => {
    const [a, b] = await pair();
    await a.run((tx) => tx.medicos.save(medico()));
    // What a steady stream of notifications does at its worst: B is asked to read again on every turn of the event
    // loop, so its reading never goes quiet.
    let streaming = true;
    const ask = (): void => {
      if (!streaming) return;
      b.changes.requestPull();
      setImmediate(ask);
    };
    ask();
    try {
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        await b.changes.catchUp();
        expect(performance.now() - started).toBeLessThan(1_000);
      }
    } finally {
      streaming = false;
    }
  }, 20_000);

  it("when a catchUp is asked just as a read ends (from a waiter's continuation, as an own update asks it), then it waits for a read of its own", async () => {
    const [a] = await pair();
    // Asked synchronously in the first catchUp's continuation, between the reading loop's last look and its end:
    // a reviewer found this second catchUp resolving without any read (the loop's end dropped it), so an update
    // could be delivered before another process's earlier change to the same record was read.
    const seen = await a.changes.catchUp().then(() => {
      const readsBefore = a.changes.reads;
      return a.changes.catchUp().then(() => ({ readsBefore, readsAfter: a.changes.reads }));
    });
    expect(seen.readsAfter).toBeGreaterThan(seen.readsBefore);
  });

  it('when A commits a write with its audit entry, then A hears both, B hears only the write, and the outbox has no feed row', async () => {
    const [a, b] = await pair();
    const onA = new Heard(a);
    const onB = new Heard(b);
    const m = medico();
    const entry = staged(1_764_560_000_001);
    await a.run(async (tx) => {
      await tx.medicos.save(m);
      await tx.auditOutbox.save(entry);
    });
    expect(onA.changes.map((h) => h.change.collection).sort()).toEqual([COLLECTIONS.auditoriaPendente, COLLECTIONS.medicos]);
    expect(onA.changes.find((h) => h.change.collection === COLLECTIONS.auditoriaPendente)!.change.after).toEqual(entry);
    await onB.until(1);
    await a.run((tx) => tx.auditOutbox.remove(entry.id));
    expect(onA.changes).toHaveLength(3); // the removal, heard by A alone
    expect(onA.changes[2]!.change).toMatchObject({ collection: COLLECTIONS.auditoriaPendente, id: entry.id, after: undefined });
    await b.changes.catchUp();
    expect(onB.changes.map((h) => h.change.id)).toEqual([m.id]);
    const { rows } = await a.pool.query<{ colecao: string }>('SELECT colecao FROM alteracoes');
    expect(rows.map((r) => r.colecao)).toEqual([COLLECTIONS.medicos]);
  });

  it('when A publishes signals in one turn, then they travel as few notifications and B hears each once, in order; A hears none', async () => {
    const [a, b] = await pair();
    const onB: unknown[] = [];
    const onA: unknown[] = [];
    b.signals.subscribe('teste', (payload) => onB.push(payload));
    a.signals.subscribe('teste', (payload) => onA.push(payload));
    // Payloads of ~1 kB each: 30 of them need several notifications (each under 8000 bytes).
    const payloads = Array.from({ length: 30 }, (_, n) => ({ n, texto: `"aspas" \\ ${'ç'.repeat(500)}` }));
    const statements = a.reads.statements;
    await Promise.all(payloads.map((p) => a.signals.publish('teste', p)));
    const sent = a.reads.statements - statements;
    expect(sent).toBeGreaterThanOrEqual(4);
    expect(sent).toBeLessThan(10);
    const until = Date.now() + 5_000;
    while (onB.length < payloads.length && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(onB).toEqual(payloads);
    expect(onA).toEqual([]);
    // A signal sent alone goes in the previous version's form, which processes of that version still read.
    const raw = new pg.Client({ connectionString: a.pool.options.connectionString });
    await raw.connect();
    try {
      const heard = new Promise<string>((resolve) => raw.on('notification', (message) => resolve(message.payload ?? '')));
      await raw.query(`LISTEN ${SIGNAL_CHANNEL}`);
      await a.signals.publish('teste', { sozinho: true });
      expect(JSON.parse(await heard)).toEqual({ o: expect.any(String), t: 'teste', p: { sozinho: true } });
    } finally {
      await raw.end();
    }
    // A signal too large for one notification is refused, alone.
    await expect(a.signals.publish('teste', { texto: 'x'.repeat(8_000) })).rejects.toThrow(RangeError);
    // A process of the previous version sends one signal per notification: still heard.
    await a.pool.query('SELECT pg_notify($1, $2)', [SIGNAL_CHANNEL, JSON.stringify({ o: 'antigo', t: 'teste', p: { n: 'antigo' } })]);
    while (onB.length < payloads.length + 2 && Date.now() < until + 2_000) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(onB.slice(payloads.length)).toEqual([{ sozinho: true }, { n: 'antigo' }]);
  });

  it('when both commit at once, then each hears every change of the other once, and both end with the same history of each record', async () => {
    const [a, b] = await pair();
    const onA = new Heard(a);
    const onB = new Heard(b);
    const counter = idempotency(0, 0);
    await a.run((tx) => tx.idempotency.save(counter));
    await onB.until(1);
    const bump = (s: PgStorage) =>
      s.run(async (tx) => {
        const current = await tx.idempotency.get(counter.id);
        await tx.idempotency.save({ ...current!, status: current!.status + 1 });
      });
    await Promise.all(Array.from({ length: 30 }, (_, i) => bump(i % 2 ? a : b)));
    await onA.until(31);
    await onB.until(31);
    await a.changes.catchUp();
    await b.changes.catchUp();
    const statuses = (heard: Heard) => heard.changes.map((h) => (h.change.after as unknown as { status: number }).status);
    const history = Array.from({ length: 31 }, (_, i) => i);
    expect(statuses(onA)).toEqual(history);
    expect(statuses(onB)).toEqual(history);
    // Each change's `before` is the previous one's `after`: nothing skipped, nothing twice.
    for (const heard of [onA, onB]) {
      for (let i = 1; i < heard.changes.length; i++) expect(heard.changes[i]!.change.before).toEqual(heard.changes[i - 1]!.change.after);
    }
  });

  it('when A restores a backup, then B hears a reset of every collection', async () => {
    const [a, b] = await pair();
    const onB = new Heard(b);
    await a.importRecords(async function* () {});
    await onB.untilResets(a.collections.length);
    expect(new Set(onB.resets)).toEqual(new Set(a.collections));
  });

  it('when B asks for a restore while A\'s runs, then B\'s is refused with 409, and A\'s completes', async () => {
    const [a, b] = await pair();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const first = a.importRecords(async function* () {}, {
      beforeReplace: async () => {
        entered();
        await gate;
      },
    });
    await inside;
    await expect(b.importRecords(async function* () {})).rejects.toMatchObject({ status: 409, type: '/problemas/restauracao-em-andamento' });
    release();
    await first;
    // Once A's has ended, B may restore.
    await b.importRecords(async function* () {});
  });

  it('when feed rows are pruned before B could read them, then B resets every collection instead of missing changes', async () => {
    const [a, b] = await pair(10_000, 0);
    const onB = new Heard(b);
    // B is busy: every connection of its pool is held, so its reader cannot read the feed for now.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const busy = Array.from({ length: 4 }, () =>
      b.run(async (tx) => {
        await tx.medicos.get('x');
        await gate;
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    await a.run((tx) => tx.medicos.save(medico()));
    // Retention 0: A prunes everything, the row B has not read included.
    expect(await a.pruneFeed()).toBeGreaterThanOrEqual(1);
    release();
    await Promise.all(busy);
    await onB.untilResets(b.collections.length);
    expect(new Set(onB.resets)).toEqual(new Set(b.collections));
    expect(onB.changes).toEqual([]);
  });

  it("when B's LISTEN connection is killed, then it reconnects by itself and B hears A's later commits", async () => {
    const [a, b] = await pair(60_000);
    const onB = new Heard(b);
    const admin = new pg.Client({ connectionString: pg15.cluster.url });
    await admin.connect();
    try {
      const { rows } = await admin.query("SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'processo_b (feed)'");
      expect(rows).toHaveLength(1);
    } finally {
      await admin.end();
    }
    const m = medico();
    await a.run((tx) => tx.medicos.save(m));
    // Delivered after the reconnection reads what was committed meanwhile (polling is a minute away here).
    await onB.until(1, 10_000);
    expect(onB.changes[0]!.change).toMatchObject({ collection: COLLECTIONS.medicos, id: m.id });
    const m2 = medico();
    const started = performance.now();
    await a.run((tx) => tx.medicos.save(m2));
    await onB.until(2);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('when the database restarts, then both keep working without a restart of their own, and the feed flows again', async () => {
    const [a, b] = await pair();
    const onB = new Heard(b);
    await a.run((tx) => tx.medicos.save(medico()));
    await onB.until(1);
    await pg15.cluster.restart({ mode: 'fast' });
    // The first calls may meet dead connections (503); within a few seconds every call works again.
    const m = medico();
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await a.run((tx) => tx.medicos.save(m));
        break;
      } catch (error) {
        expect((error as { code?: string }).code).toBe('ARMAZENAMENTO_INDISPONIVEL');
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    await onB.until(2, 15_000);
    expect(onB.changes[1]!.change.id).toBe(m.id);
    expect(await b.medicos.get(m.id)).toEqual(m);
    expect(await b.healthy()).toBe(true);
  }, 60_000);
});
