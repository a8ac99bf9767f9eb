import type { Reads, StoragePort, UnitOfWork } from '../repositories/port.js';

/** Records removed per unit of work by {@link purgeInChunks}: a backlog of any size never makes one huge transaction. */
export const PURGE_CHUNK = 1000;

/**
 * Removes the records `due` names (at most `limit` per call), in units of work of at most {@link PURGE_CHUNK}
 * removals each, until none is left; returns how many went. `due` is asked once outside any unit of work (a cheap
 * look: most hours nothing is due, and then nothing is written), then again inside each one, so a record renewed
 * meanwhile by any process stays.
 */
export async function purgeInChunks(
  storage: StoragePort,
  due: (reads: Reads | UnitOfWork, limit: number) => Promise<readonly string[]>,
  remove: (tx: UnitOfWork, id: string) => Promise<void>,
): Promise<number> {
  if ((await due(storage, 1)).length === 0) return 0;
  let removed = 0;
  for (;;) {
    const { count, more } = await storage.run(async (tx) => {
      const ids = await due(tx, PURGE_CHUNK + 1);
      const chunk = ids.slice(0, PURGE_CHUNK);
      for (const id of chunk) await remove(tx, id);
      return { count: chunk.length, more: ids.length > chunk.length };
    });
    removed += count;
    if (!more) return removed;
  }
}
