import { pino } from 'pino';
import { createContainer, type Container } from '../src/composition.js';
import { ensureDirectories, loadConfig } from '../src/core/config.js';

/** Runs an operator command over the data directory of the configuration, then closes it cleanly. */
export async function withContainer(run: (container: Container) => Promise<void>): Promise<void> {
  try {
    const config = loadConfig();
    ensureDirectories(config);
    const container = await createContainer(config, { logger: pino({ level: 'warn' }) });
    try {
      await run(container);
    } finally {
      await container.close();
    }
  } catch (error) {
    process.stderr.write(`erro: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
