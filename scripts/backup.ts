/**
 * `npm run backup`: takes a backup of the configured storage (`STORAGE=json`: DATA_DIR, meant for when the server
 * is stopped; `STORAGE=postgres`: the database, a consistent snapshot even while servers run) into BACKUP_DIR.
 * With BACKUP_KEY set it is encrypted (`backup-….zip.enc`), exactly as the server would write it. The backup holds
 * records, restorable into either driver.
 */
import { withContainer } from './cli.js';

await withContainer(async ({ services, config, storage }) => {
  const info = await services.backups.create({ automatic: false });
  const how = info.criptografado ? 'criptografado com BACKUP_KEY' : 'SEM criptografia: defina BACKUP_KEY para cifrar';
  process.stdout.write(`backup criado: ${config.backupDir}/${info.nome} (${info.tamanhoBytes} bytes, ${how}; armazenamento: ${storage.driver})\n`);
});
