import type { Server } from 'node:http';
import { createApp } from './app.js';
import { createHttpServer } from './http/http-server.js';
import { createContainer, type Container } from './composition.js';
import { ConfigError, ensureDirectories, loadConfig } from './core/config.js';
import { DatabaseUnreachableError, StorageOpenError, StorageUnavailableError } from './core/errors.js';
import { StorageCorruptError } from './infra/storage/json/file-store.js';
import { seedDemoData } from './services/seed.js';

/** How long shutdown waits for in-flight requests before closing their connections. */
const SHUTDOWN_GRACE_MS = 10_000;

/** Starts the API: config, storage, seed, listen; SIGTERM/SIGINT close it in order. */
async function main(): Promise<void> {
  const config = loadConfig();
  ensureDirectories(config);
  const container = await createContainer(config);
  const { logger } = container;
  await container.services.usuarios.ensureFirstAdmin(config.adminEmail, config.adminSenha);
  if (config.seed) {
    const { medicos, pacientes, usuarios } = container.services;
    await seedDemoData({ storage: container.storage, medicos, pacientes, usuarios, logger });
  }
  const app = createApp(container);
  const server = createHttpServer(app).listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info(
    { port, host: config.host, dataDir: config.dataDir, timezone: config.clinicTz, maxConnections: server.maxConnections },
    'servidor pronto',
  );
  if (config.sseMaxClients >= server.maxConnections) {
    // Streams would then be refused by the connection cap (closed unanswered) before SSE_MAX_CLIENTS answers 503.
    logger.warn({ sseMaxClients: config.sseMaxClients, maxConnections: server.maxConnections }, 'SSE_MAX_CLIENTS acima do limite de conexões do processo');
  }

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'encerrando');
    shutdown(server, container).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'falha ao encerrar');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** Stop accepting, let in-flight requests finish (bounded), then finish writes and checkpoint. */
async function shutdown(server: Server, container: Container): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  container.endStreams();
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
  await closed;
  clearTimeout(timer);
  await container.close();
  container.logger.info('encerrado');
}

main().catch((error: unknown) => {
  process.stderr.write(`Agenda Médica não iniciou: ${startFailure(error)}\n`);
  process.exit(1);
});

/**
 * What the operator reads when the server does not start: for what they must fix (configuration, a data file, a
 * database that refused or could not be reached), what and why in one line; for anything else (a bug), the stack.
 */
function startFailure(error: unknown): string {
  if (error instanceof ConfigError || error instanceof StorageCorruptError || error instanceof StorageOpenError) return error.message;
  if (error instanceof DatabaseUnreachableError) return `${error.message}; verifique o endereço e se o servidor do banco está no ar`;
  // Storage that could not be used at start (JSON driver: the data directory's lock not obtained, a full disk).
  if (error instanceof StorageUnavailableError) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
    return `${error.detail}${cause}`;
  }
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
