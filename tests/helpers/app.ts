import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Express } from 'express';
import type { Papel } from '../../src/core/context.js';
import { tokenId } from '../../src/services/auth.service.js';
import type { SessaoRecord, UsuarioRecord } from '../../src/schemas/usuario.schema.js';
import { afterEach } from 'vitest';
import { createApp } from '../../src/app.js';
import { createContainer, type Container } from '../../src/composition.js';
import { ManualClock, type Clock } from '../../src/core/clock.js';
import { loadConfig } from '../../src/core/config.js';
import { StorageUnavailableError } from '../../src/core/errors.js';
import { FileStore, type StorageFs } from '../../src/infra/storage/json/file-store.js';
import { MemoryStore } from '../../src/infra/storage/json/memory-store.js';
import { ALL_COLLECTIONS, REFERENCE_FIELDS } from '../../src/repositories/collections.js';
import { JsonStorage } from '../../src/infra/storage/json/json-storage.js';
import { PgStorage } from '../../src/infra/storage/postgres/pg-storage.js';
import type { StoragePort } from '../../src/repositories/port.js';
import { currentDriver, databaseOf, dropTestDatabases, pgStorageFor, type Driver } from './drivers.js';
import { silentLogger } from './logger.js';
import { tempDir } from './tmp.js';
import { NO_PASSWORD_HASH } from './hashes.js';

export { NO_PASSWORD_HASH };

export interface TestApp {
  /**
   * The app. Unless `signedIn: false`, requests that carry no credentials of their own are signed in as an admin
   * (as a real client always sends its bearer token): tests of features need not repeat the sign-in, and tests of
   * access control pass their own `Authorization`/`Cookie`, or use `signedIn: false` for the bare app.
   */
  app: Express;
  /** The bare app: no credentials added. */
  rawApp: Express;
  container: Container;
  dataDir: string;
  /** The admin's bearer token the app signs requests in with. */
  adminToken: string;
  /** The storage driver the app runs on. */
  driver: Driver;
}

const open: Container[] = [];

/** A fixed "now" for HTTP tests: 2026-11-30 12:00 in São Paulo. */
export const TEST_NOW = new Date('2026-11-30T15:00:00Z');

/**
 * The real app over a fresh temp data directory, with a manual clock and a silent logger. On the JSON driver
 * (the default) its store is the data directory's files, or memory; on PostgreSQL (`driver: 'postgres'`, or
 * any app made inside `describeEachDriver`'s PostgreSQL half) a fresh database of the file's throwaway cluster,
 * and the data directory keeps what is files with either driver (audit trail, backups, reports). An app made
 * again on the same `DATA_DIR` in one test (a restart) finds the same database.
 */
export async function makeApp(
  options: { storage?: 'file' | 'memory'; driver?: Driver; clock?: Clock; env?: Record<string, string>; fs?: StorageFs; signedIn?: boolean } = {},
): Promise<TestApp> {
  const driver = options.driver ?? currentDriver();
  if (driver === 'postgres' && (options.storage || options.fs)) throw new Error('storage and fs choose the JSON driver\'s store: not with PostgreSQL');
  const dataDir = options.env?.DATA_DIR ?? tempDir('agenda-http-');
  const config = loadConfig({ DATA_DIR: dataDir, BACKUP_DIR: `${dataDir}/b`, REPORTS_DIR: `${dataDir}/r`, SEED: 'false', SESSION_TTL_MIN: '129600', WRITE_RATE_LIMIT: '0', ...options.env });
  const container = await createContainer(config, {
    clock: options.clock ?? new ManualClock(TEST_NOW),
    logger: silentLogger,
    ...(driver === 'postgres' ? { storage: (await pgStorageFor(dataDir)).storage } : {}),
    ...(options.storage === 'memory' ? { store: new MemoryStore(ALL_COLLECTIONS, REFERENCE_FIELDS) } : {}),
    ...(options.fs ? { store: new FileStore({ dir: dataDir, collections: ALL_COLLECTIONS, sharedFields: REFERENCE_FIELDS, logger: silentLogger, fs: options.fs }) } : {}),
  });
  open.push(container);
  const rawApp = createApp(container);
  const { app: signed, adminToken } = await signedInApp(container, rawApp);
  return { app: options.signedIn === false ? rawApp : signed, rawApp, container, dataDir, adminToken, driver };
}

/**
 * The stored data of a closed app, as a fresh process would open it (the JSON driver's files, or the
 * PostgreSQL database): what survived. Close it after use.
 */
export async function reopenStorage(t: TestApp): Promise<StoragePort> {
  const url = databaseOf(t.dataDir);
  const storage: StoragePort = url
    ? new PgStorage({ url, logger: silentLogger, poolMax: 2 })
    : new JsonStorage(new FileStore({ dir: t.dataDir, collections: ALL_COLLECTIONS, sharedFields: REFERENCE_FIELDS, logger: silentLogger }));
  await storage.open();
  return storage;
}

/**
 * The app of a container with every request that carries no credentials signed in as a fresh admin. A proxy,
 * not a wrapper function: `createHttpServer` reads and sets the app's own properties.
 */
export async function signedInApp(container: Container, rawApp: Express = createApp(container)): Promise<{ app: Express; adminToken: string }> {
  const { token: adminToken } = await signIn(container, 'admin');
  const app = new Proxy(rawApp, {
    apply(target, thisArg, args: [IncomingMessage, ServerResponse, unknown]) {
      const req = args[0];
      if (!req.headers.authorization && !req.headers.cookie) req.headers.authorization = `Bearer ${adminToken}`;
      return Reflect.apply(target, thisArg, args);
    },
  });
  return { app, adminToken };
}

let userCounter = 0;

/**
 * A user of the given role with an open session, written straight to storage (no scrypt: fast). Returns the
 * bearer token and the user's id. A `medico` user needs the médico's id.
 */
export async function signIn(container: Container, papel: Papel, medicoId?: string): Promise<{ token: string; usuarioId: string; email: string }> {
  const token = randomBytes(32).toString('base64url');
  const usuarioId = randomUUID();
  const email = `${papel}-${++userCounter}@teste.local`;
  const now = container.clock.now();
  const criadoEm = now.toISOString();
  const usuario: UsuarioRecord = {
    id: usuarioId, nome: `Teste ${papel}`, email, papel, medicoId: medicoId ?? null, ativo: true,
    senhaHash: NO_PASSWORD_HASH, criadoEm, atualizadoEm: criadoEm,
  };
  const sessao: SessaoRecord = { id: tokenId(token), usuarioId, criadaEm: criadoEm, usadaEm: now.getTime() };
  await container.storage.run(async (tx) => {
    await tx.usuarios.save(usuario);
    await tx.sessoes.save(sessao);
  });
  return { token, usuarioId, email };
}

/** `Authorization` header value for a token. */
export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

afterEach(async () => {
  for (const container of open.splice(0)) {
    // Tests that break the storage on purpose (a held lock, a vanished directory) leave a store that cannot
    // checkpoint on close: that is what they tested, not a failure of the test.
    await container.close().catch((error: unknown) => {
      if (!(error instanceof StorageUnavailableError)) throw error;
    });
  }
  await dropTestDatabases();
});

export const medicoBody = (overrides: Record<string, unknown> = {}) => ({
  nome: 'Ana Souza',
  crm: '123456/SP',
  especialidade: 'Cardiologia',
  email: 'ana@clinica.com.br',
  telefone: '+55 11 91234-5678',
  duracaoConsultaMin: 30,
  horarios: [
    { diaSemana: 1, inicio: '08:00', fim: '12:00' },
    { diaSemana: 1, inicio: '14:00', fim: '18:00' },
  ],
  ...overrides,
});

export const pacienteBody = (overrides: Record<string, unknown> = {}) => ({
  nome: 'João Lima',
  cpf: '529.982.247-25',
  dataNascimento: '1990-05-12',
  email: 'joao@example.com',
  telefone: '+55 21 99876-5432',
  ...overrides,
});
