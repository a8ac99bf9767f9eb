import * as fsp from 'node:fs/promises';
import type { StorageFs } from '../../src/infra/storage/json/file-store.js';

/**
 * A storage `fs` seam whose file handles fail `datasync` with the given error code while `failing` is on:
 * the disk-full or I/O-error case, injected where the storage module does its durable writes.
 */
export function faultyFs(code: 'ENOSPC' | 'EIO' = 'EIO') {
  const control = { failing: false };
  const fs: StorageFs = {
    ...fsp,
    open: (async (...args: Parameters<typeof fsp.open>) => {
      const handle = await fsp.open(...args);
      if (!control.failing) return handle;
      return Object.assign(Object.create(handle) as typeof handle, {
        datasync: async () => {
          throw Object.assign(new Error(`${code}: injected fault`), { code });
        },
      });
    }) as typeof fsp.open,
  };
  return { fs, control };
}
