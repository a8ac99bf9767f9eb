import type { Clock } from './core/clock.js';
import { systemClock } from './core/clock.js';
import type { Config } from './core/config.js';
import { LogBuffer, createLogger, type Logger } from './core/logger.js';
import { FileStore } from './infra/storage/file-store.js';
import type { Store } from './infra/storage/store.js';
import { ALL_COLLECTIONS } from './repositories/collections.js';
import { ConsultaRepository } from './repositories/consulta.repository.js';
import { MedicoRepository } from './repositories/medico.repository.js';
import { PacienteRepository } from './repositories/paciente.repository.js';
import { MedicoService } from './services/medico.service.js';
import { PacienteService } from './services/paciente.service.js';

export interface ContainerOptions {
  clock?: Clock;
  /** Storage other than the data directory (tests pass a MemoryStore). */
  store?: Store;
  logger?: Logger;
  logBuffer?: LogBuffer;
}

/** Everything the app is made of, built once, in dependency order. */
export interface Container {
  config: Config;
  clock: Clock;
  logger: Logger;
  logBuffer: LogBuffer;
  store: Store;
  repositories: { medicos: MedicoRepository; pacientes: PacienteRepository; consultas: ConsultaRepository };
  services: { medicos: MedicoService; pacientes: PacienteService };
  /** Finishes writes and checkpoints storage. */
  close(): Promise<void>;
}

/**
 * The composition root: config → logger → store → repositories → services. Opening the store reads the
 * data directory, so this throws StorageCorruptError when a data file is damaged.
 */
export async function createContainer(config: Config, options: ContainerOptions = {}): Promise<Container> {
  const clock = options.clock ?? systemClock;
  const logBuffer = options.logBuffer ?? new LogBuffer();
  const logger = options.logger ?? (await createLogger({ level: config.logLevel, pretty: config.prettyLogs, buffer: logBuffer }));
  const store =
    options.store ??
    new FileStore({
      dir: config.dataDir,
      collections: ALL_COLLECTIONS,
      logger: logger.child({ module: 'storage' }),
      staleMs: config.lockStaleMs,
    });
  await store.open();

  const medicos = new MedicoRepository(store);
  const pacientes = new PacienteRepository(store);
  const consultas = new ConsultaRepository(store);
  const timezone = config.clinicTz;
  const services = {
    medicos: new MedicoService({ store, medicos, consultas, clock, timezone, logger }),
    pacientes: new PacienteService({ store, pacientes, consultas, clock, timezone, logger }),
  };

  return {
    config,
    clock,
    logger,
    logBuffer,
    store,
    repositories: { medicos, pacientes, consultas },
    services,
    close: () => store.close(),
  };
}
