/**
 * `npm run restore -- <file>`: validates a backup and restores it into the configured storage (`STORAGE=json`:
 * DATA_DIR; `STORAGE=postgres`: the database at DATABASE_URL), after a safety backup of the current data.
 * <file> is a path, or the name of a backup in BACKUP_DIR. An encrypted backup (`.zip.enc`) needs BACKUP_KEY set
 * to the key it was made with; without it, or with another key, it is refused.
 *
 * Backups hold records in one format for both drivers, so this is also how a clinic moves between them:
 * `npm run backup` with the old driver, then `STORAGE=postgres DATABASE_URL=… npm run restore -- <file>`.
 * Backups from before that format (data files and journal) restore too.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { withContainer } from './cli.js';

const arg = process.argv[2];
if (!arg) {
  process.stderr.write('uso: npm run restore -- <arquivo.zip | arquivo.zip.enc | nome em BACKUP_DIR>\n');
  process.exit(2);
}

await withContainer(async ({ services, storage }) => {
  const file = existsSync(arg) ? path.resolve(arg) : await services.backups.pathOf(arg);
  const result = await services.backups.restore(file);
  process.stdout.write(
    `restaurado: ${result.restaurado} (armazenamento: ${storage.driver})\nbackup de segurança: ${result.backupDeSeguranca}\n` +
      Object.entries(result.contagens).map(([c, n]) => `  ${c}: ${n}\n`).join(''),
  );
});
