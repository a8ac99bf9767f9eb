/**
 * `npm run backup`: takes a backup of DATA_DIR into BACKUP_DIR (meant for when the server is stopped).
 * With BACKUP_KEY set it is encrypted (`backup-….zip.enc`), exactly as the server would write it.
 */
import { withContainer } from './cli.js';

await withContainer(async ({ services, config }) => {
  const info = await services.backups.create({ automatic: false });
  const how = info.criptografado ? 'criptografado com BACKUP_KEY' : 'SEM criptografia: defina BACKUP_KEY para cifrar';
  process.stdout.write(`backup criado: ${config.backupDir}/${info.nome} (${info.tamanhoBytes} bytes, ${how})\n`);
});
