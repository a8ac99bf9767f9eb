import { promises as fs } from 'node:fs';
import path from 'node:path';
import { GENESIS, hashMatches, readChain } from './line-format.js';
import { forEachLine, listMonthFiles } from './month-files.js';
import type { AuditVerification } from './types.js';

/**
 * Walks every month file, oldest first, one line at a time, and checks the chain: each line's `hash` must
 * be the SHA-256 of its bytes, and its `hashAnterior` the `hash` of the line before it — the previous
 * line of the same file, or the last line of the previous month file, or {@link GENESIS} for the first
 * line of all. An edited line breaks at itself; a deleted or moved line breaks at the line that now
 * follows the gap; a deleted month file breaks at the first line of the next one.
 *
 * An unterminated last line (a write cut short by a crash, or one another process is still making) is
 * not counted and is not a break: the next append cuts it and chains to the last whole line, as here.
 *
 * Limits: a chain without an outside anchor cannot show that the newest lines (or the newest month
 * file) were removed, nor that someone rewrote the chain from some line on with recomputed hashes.
 */
export async function verifyChain(dir: string): Promise<AuditVerification> {
  let expected = GENESIS;
  let entradas = 0;
  for (const file of await listMonthFiles(dir)) {
    const handle = await fs.open(path.join(dir, file), 'r');
    let lineNumber = 0;
    let broken = false;
    try {
      await forEachLine(handle, 0, (line) => {
        lineNumber++;
        const chain = readChain(line);
        if (!chain || chain.hashAnterior !== expected || !hashMatches(line, chain)) {
          broken = true;
          return false;
        }
        expected = chain.hash;
        entradas++;
      });
    } finally {
      await handle.close();
    }
    if (broken) return { integra: false, entradas, primeiraQuebra: { arquivo: file, linha: lineNumber } };
  }
  return { integra: true, entradas };
}
