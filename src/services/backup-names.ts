import * as fsp from 'node:fs/promises';
import path from 'node:path';
import type { FileCatalog } from '../infra/file-catalog.js';

/**
 * Backup names: `backup-YYYYMMDD-HHmmss[-auto].zip`, plus `.enc` when encrypted — the contract's pattern,
 * kept exactly. The stamp is the clinic's local time of creation, or, when that second is already taken
 * (or an existing backup's stamp is later), one second after the newest existing backup of either kind.
 * So every name is unique, a later backup always sorts after an earlier one (even across a daylight-saving
 * fall-back), and pruning "all but the newest N" by name never deletes the newest. A burst of backups in
 * one second gets consecutive seconds, a little ahead of the clock.
 */
export const BACKUP_NAME = /^backup-(\d{8})-(\d{6})(-auto)?\.zip(\.enc)?$/;

/** `YYYYMMDDHHmmss`, the part of a name that orders backups. */
export function stampOf(nome: string): string {
  const match = BACKUP_NAME.exec(nome);
  return match ? `${match[1]}${match[2]}` : '';
}

export const isAutomaticName = (nome: string): boolean => /-auto\.zip(\.enc)?$/.test(nome);
export const isEncryptedName = (nome: string): boolean => nome.endsWith('.enc');

/** The stamp of a local ISO instant (`2026-11-30T12:00:00-03:00` → `20261130120000`). */
export const stampOfLocal = (local: string): string => local.slice(0, 19).replace(/[-T:]/g, '');

/** The stamp one second later, computed on the naive local date-time (no time zone involved). */
export function nextSecond(stamp: string): string {
  const n = (from: number, to: number) => Number(stamp.slice(from, to));
  const next = new Date(Date.UTC(n(0, 4), n(4, 6) - 1, n(6, 8), n(8, 10), n(10, 12), n(12, 14)) + 1000);
  return next.toISOString().slice(0, 19).replace(/[-T:]/g, '');
}

export function backupName(stamp: string, options: { automatic: boolean; encrypted: boolean }): string {
  return `backup-${stamp.slice(0, 8)}-${stamp.slice(8)}${options.automatic ? '-auto' : ''}.zip${options.encrypted ? '.enc' : ''}`;
}

/**
 * Gives the finished archive at `temp` its final name without ever sharing a second with another backup
 * (of any kind) or replacing one, even when processes sharing the directory (the server, `npm run backup`)
 * publish at once. A second is claimed with an exclusive lock file (`.backup-<stamp>.lock`, O_EXCL), then
 * checked free under that claim, then the archive is linked (no-clobber) to its name and the claim dropped.
 * A claim held by someone else moves on to the next second at once, so nobody waits.
 */
export async function publishBackup(
  catalog: FileCatalog,
  dir: string,
  temp: string,
  nowLocal: string,
  options: { automatic: boolean; encrypted: boolean },
): Promise<string> {
  const newest = (await catalog.names())[0];
  let stamp = stampOfLocal(nowLocal);
  if (newest !== undefined && stamp <= stampOf(newest)) stamp = nextSecond(stampOf(newest));
  for (let attempt = 0; attempt < 1000; attempt++, stamp = nextSecond(stamp)) {
    const lock = path.join(dir, `.backup-${stamp}.lock`);
    try {
      await (await fsp.open(lock, 'wx')).close();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw error;
    }
    try {
      if ((await catalog.names()).some((n) => stampOf(n) === stamp)) continue;
      const nome = backupName(stamp, options);
      if (await linkNoClobber(temp, path.join(dir, nome))) return nome;
    } finally {
      await fsp.rm(lock, { force: true });
    }
  }
  throw new Error('não foi possível escolher um nome livre para o backup');
}

/** Moves `temp` to `final` unless `final` exists; false when it does. */
async function linkNoClobber(temp: string, final: string): Promise<boolean> {
  try {
    await fsp.link(temp, final);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EXDEV') throw error;
    // A file system without hard links (FAT, some network shares): the lock already made the name ours.
    const taken = await fsp.access(final).then(() => true, () => false);
    if (taken) return false;
    await fsp.rename(temp, final);
    return true;
  }
  await fsp.unlink(temp);
  return true;
}
