import type { Express } from 'express';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { createContainer, type Container } from '../../src/composition.js';
import { ManualClock } from '../../src/core/clock.js';
import { loadConfig } from '../../src/core/config.js';
import { StorageUnavailableError } from '../../src/core/errors.js';
import { PgStorage } from '../../src/infra/storage/postgres/pg-storage.js';
import { TEST_NOW, bearer, makeApp, medicoBody, signIn } from '../helpers/app.js';
import { silentLogger } from '../helpers/logger.js';
import { createDatabase, skipWithoutPostgres, startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The sign-in lockout and the write limit with two apps — two containers, each with its own PgStorage (its own
 * pool), as two server processes have — on ONE PostgreSQL database: the counts are the database's, so requests
 * spread over both apps are counted together. Each test splits its requests so that neither app alone reaches
 * the limit: with per-process counts it would fail.
 */

const SENHA = 'uma-senha-bem-longa';
const EMAIL = 'rita@clinica.local';

interface Node {
  container: Container;
  app: Express;
}

const problemJson = /^application\/problem\+json/;

/** Hostile sign-in bodies: each must get a 4xx problem, never a 5xx. */
async function expectHostileSignInsRefused(app: Express): Promise<void> {
  const post = (body: unknown, type = 'application/json') =>
    request(app).post('/auth/login').set('Content-Type', type).send(typeof body === 'string' ? body : JSON.stringify(body));
  const answers = [
    await post({ email: `${'a'.repeat(10_240)}@clinica.local`, senha: SENHA }),
    await post({ email: EMAIL, senha: 'x'.repeat(10_240) }),
    await request(app).post('/auth/login'),
    await post(''),
    await post('{}'),
    await post('null'),
    await post('[]'),
    await post({ email: ['a@b.c'], senha: SENHA }),
    await post({ email: 'ação@clínica.br', senha: SENHA }),
    await post({ email: '😀🏥@exemplo.com.br', senha: SENHA }),
    await post({ email: '‮moc.elpmaxe@ecila', senha: 'ﬀ𝔰𝔢𝔫𝔥𝔞' }),
    await post('{"email":"\\ud800@x.y","senha":"\\udfff"}'),
    await post({ email: 'nul\u0000@x.y', senha: 'nul\u0000nul' }),
  ];
  for (const res of answers) {
    expect(res.status, `${res.status} ${res.text}`).toBeGreaterThanOrEqual(400);
    expect(res.status, res.text).toBeLessThan(500);
    expect(res.headers['content-type']).toMatch(problemJson);
  }
  // A unicode e-mail is an account like any other: five failures lock it.
  for (let i = 0; i < 5; i++) expect((await post({ email: 'joão.ç@clínica.br', senha: `errada-${i}` })).status).toBe(401);
  const locked = await post({ email: 'joão.ç@clínica.br', senha: 'qualquer' });
  expect(locked.status).toBe(429);
  expect(locked.headers['content-type']).toMatch(problemJson);
}

describe('hostile sign-in input on the JSON driver', () => {
  it('when the body is a 10 kB e-mail, unicode, control characters or empty, then a 4xx problem+json, never a 5xx', async () => {
    const { app } = await makeApp({ signedIn: false });
    await expectHostileSignInsRefused(app);
  });
});

describe.skipIf(skipWithoutPostgres())('two apps on one PostgreSQL database share the abuse limits', () => {
  let cluster: PostgresCluster;
  let databases = 0;
  const containers: Container[] = [];

  beforeAll(async () => {
    cluster = await startPostgres();
  }, 120_000);

  afterEach(async () => {
    for (const container of containers.splice(0)) {
      await container.close().catch((error: unknown) => {
        if (!(error instanceof StorageUnavailableError)) throw error;
      });
    }
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  /** Two containers on a fresh database, on one manual clock, each with its own pool; a user with a real password. */
  async function twoApps(env: Record<string, string> = {}): Promise<{ a: Node; b: Node; clock: ManualClock }> {
    const url = await createDatabase(cluster.url, `limites_http_${++databases}`);
    const clock = new ManualClock(TEST_NOW);
    const nodes: Node[] = [];
    for (const name of ['a', 'b']) {
      const dataDir = tempDir('agenda-limites-');
      const config = loadConfig({
        DATA_DIR: dataDir, BACKUP_DIR: `${dataDir}/b`, REPORTS_DIR: `${dataDir}/r`, SEED: 'false', SESSION_TTL_MIN: '129600', WRITE_RATE_LIMIT: '0', ...env,
      });
      const storage = new PgStorage({ url, logger: silentLogger, poolMax: 4, feedPollMs: 500, applicationName: `limites-${name}` });
      await storage.open();
      const container = await createContainer(config, { clock, logger: silentLogger, storage });
      containers.push(container);
      nodes.push({ container, app: createApp(container) });
    }
    await nodes[0]!.container.services.usuarios.create({ nome: 'Rita', email: EMAIL, papel: 'recepcao', ativo: true, senha: SENHA });
    return { a: nodes[0]!, b: nodes[1]!, clock };
  }

  const login = (node: Node, senha: string, email = EMAIL) => request(node.app).post('/auth/login').send({ email, senha });

  it('when failed sign-ins are split across both apps, then the account locks on both, the right password is refused, and a success clears the count', async () => {
    const { a, b, clock } = await twoApps();
    expect(a.container.limits.constructor.name).toBe('PgLimits');

    // 4 failures (2 per app), then a success on A: the count is cleared for B as well.
    for (const [i, node] of [a, b, a, b].entries()) expect((await login(node, `errada-${i}-xxxxxx`)).status).toBe(401);
    await login(a, SENHA).expect(200);
    // 4 more (B, A, B, A): had the success not cleared the shared count, the second of these would be refused.
    for (const [i, node] of [b, a, b, a].entries()) expect((await login(node, `outra-${i}-xxxxxx`)).status).toBe(401);
    await login(b, SENHA).expect(200);

    // 5 failures: 3 on A, 2 on B. Counted per process, neither would be locked.
    for (const [i, node] of [a, b, a, b, a].entries()) expect((await login(node, `mais-${i}-xxxxxx`)).status).toBe(401);
    for (const node of [b, a]) {
      const locked = await login(node, SENHA);
      expect(locked.status).toBe(429);
      expect(locked.headers['content-type']).toMatch(problemJson);
      expect(locked.body).toMatchObject({ type: '/problemas/muitas-tentativas', status: 429 });
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(locked.headers['retry-after'])).toBeLessThanOrEqual(15 * 60);
    }
    expect((await login(b, 'errada-de-novo-xxxxxx')).status).toBe(429);

    // The lock ends for both when the window has passed.
    clock.advance(15 * 60_000 + 1000);
    await login(b, SENHA).expect(200);
    await login(a, SENHA).expect(200);
  }, 120_000);

  it('when one session writes through both apps, then the writes are counted together and the limit holds on both', async () => {
    const { a, b, clock } = await twoApps({ WRITE_RATE_LIMIT: '4' });
    const { token } = await signIn(a.container, 'admin');
    let crm = 1000;
    const write = (node: Node, t = token) => request(node.app).post('/medicos').set(bearer(t)).send(medicoBody({ crm: `${++crm}/SP` }));

    // 4 writes, 2 per app: within the limit. Counted per process, each app would allow 4 of its own.
    for (const node of [a, b, a, b]) await write(node).expect(201);
    for (const node of [a, b]) {
      const limited = await write(node);
      expect(limited.status).toBe(429);
      expect(limited.headers['content-type']).toMatch(problemJson);
      expect(limited.body).toMatchObject({ type: '/problemas/muitas-requisicoes', status: 429 });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    }
    expect((await a.container.storage.counts()).medicos).toBe(4);
    // Reads are not writes; another session has its own count.
    await request(b.app).get('/medicos').set(bearer(token)).expect(200);
    const other = await signIn(b.container, 'recepcao');
    await write(a, other.token).expect(201);

    clock.advance(61_000);
    await write(b).expect(201);
  }, 120_000);

  it('when the body is a 10 kB e-mail, unicode, control characters or empty, then a 4xx problem+json, never a 5xx', async () => {
    const { a } = await twoApps();
    await expectHostileSignInsRefused(a.app);
  }, 120_000);

  it('when the counters\' statements fail as with the database away, then writes get the 503 problem and are not made', async () => {
    const { a } = await twoApps({ WRITE_RATE_LIMIT: '100' });
    const { token } = await signIn(a.container, 'admin');
    // Only the limits' statements fail (the session is still read): the answer is the limiter's own.
    const pool = (a.container.storage as PgStorage).pool;
    const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
    (pool as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = (...args: unknown[]) =>
      typeof args[0] === 'string' && args[0].includes('limites_')
        ? Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))
        : query(...args);
    const res = await request(a.app).post('/medicos').set(bearer(token)).send(medicoBody());
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toMatch(problemJson);
    expect(res.body).toMatchObject({ type: '/problemas/armazenamento-indisponivel', status: 503 });
    const signInRes = await login(a, SENHA);
    expect(signInRes.status).toBe(503);
    expect(signInRes.body).toMatchObject({ type: '/problemas/armazenamento-indisponivel' });
    (pool as unknown as { query: unknown }).query = query;
    expect((await a.container.storage.counts()).medicos).toBe(0);
  }, 120_000);

  // Last: it stops the cluster.
  it('when the database is down, then sign-ins get the 503 problem (right password included), never a pass, and the apps keep answering', async () => {
    const { a, b } = await twoApps();
    await cluster.stop();
    for (const node of [a, b]) {
      for (const senha of [SENHA, 'errada-xxxxxxxx']) {
        const res = await login(node, senha);
        expect(res.status).toBe(503);
        expect(res.headers['content-type']).toMatch(problemJson);
        expect(res.body).toMatchObject({ type: '/problemas/armazenamento-indisponivel', status: 503 });
        expect(res.body).not.toHaveProperty('token');
      }
      await request(node.app).get('/openapi.json').expect(200);
    }
  }, 120_000);
});
