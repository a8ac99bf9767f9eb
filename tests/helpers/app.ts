import type { Express } from 'express';
import { afterEach } from 'vitest';
import { createApp } from '../../src/app.js';
import { createContainer, type Container } from '../../src/composition.js';
import { ManualClock, type Clock } from '../../src/core/clock.js';
import { loadConfig } from '../../src/core/config.js';
import { FileStore, type StorageFs } from '../../src/infra/storage/file-store.js';
import { MemoryStore } from '../../src/infra/storage/memory-store.js';
import { ALL_COLLECTIONS, REFERENCE_FIELDS } from '../../src/repositories/collections.js';
import { silentLogger } from './logger.js';
import { tempDir } from './tmp.js';

export interface TestApp {
  app: Express;
  container: Container;
  dataDir: string;
}

const open: Container[] = [];

/** A fixed "now" for HTTP tests: 2026-11-30 12:00 in São Paulo. */
export const TEST_NOW = new Date('2026-11-30T15:00:00Z');

/**
 * The real app over a fresh temp data directory (file storage by default, or memory),
 * with a manual clock and a silent logger.
 */
export async function makeApp(
  options: { storage?: 'file' | 'memory'; clock?: Clock; env?: Record<string, string>; fs?: StorageFs } = {},
): Promise<TestApp> {
  const dataDir = options.env?.DATA_DIR ?? tempDir('agenda-http-');
  const config = loadConfig({ DATA_DIR: dataDir, BACKUP_DIR: `${dataDir}/b`, REPORTS_DIR: `${dataDir}/r`, SEED: 'false', ...options.env });
  const container = await createContainer(config, {
    clock: options.clock ?? new ManualClock(TEST_NOW),
    logger: silentLogger,
    ...(options.storage === 'memory' ? { store: new MemoryStore(ALL_COLLECTIONS, REFERENCE_FIELDS) } : {}),
    ...(options.fs ? { store: new FileStore({ dir: dataDir, collections: ALL_COLLECTIONS, sharedFields: REFERENCE_FIELDS, logger: silentLogger, fs: options.fs }) } : {}),
  });
  open.push(container);
  return { app: createApp(container), container, dataDir };
}

afterEach(async () => {
  for (const container of open.splice(0)) await container.close();
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
