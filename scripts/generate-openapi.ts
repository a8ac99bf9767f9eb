/**
 * Writes `openapi.yaml` from the route specs (the same ones that build the router).
 * `npm run openapi` after changing a route or schema; a test fails while the file is stale.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { API_INFO, apiRoutes } from '../src/app.js';
import { createContainer } from '../src/composition.js';
import { loadConfig } from '../src/core/config.js';
import { MemoryStore } from '../src/infra/storage/json/memory-store.js';
import { buildOpenApiDocument, toYaml } from '../src/openapi/document.js';
import { ALL_COLLECTIONS } from '../src/repositories/collections.js';

export async function generateOpenApiYaml(): Promise<string> {
  const container = await createContainer(loadConfig({ SEED: 'false' }), {
    store: new MemoryStore(ALL_COLLECTIONS),
    logger: pino({ level: 'silent' }),
  });
  return toYaml(buildOpenApiDocument(apiRoutes(container), API_INFO));
}

export const OPENAPI_FILE = path.resolve(import.meta.dirname, '..', 'openapi.yaml');

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  writeFileSync(OPENAPI_FILE, await generateOpenApiYaml());
  process.stdout.write(`escrito ${OPENAPI_FILE}\n`);
}
