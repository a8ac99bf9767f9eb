/** `npm run backup`: takes a backup of DATA_DIR into BACKUP_DIR (meant for when the server is stopped). */
import { withContainer } from './cli.js';

await withContainer(async ({ services, config }) => {
  const info = await services.backups.create({ automatic: false });
  process.stdout.write(`backup criado: ${config.backupDir}/${info.nome} (${info.tamanhoBytes} bytes)\n`);
});
