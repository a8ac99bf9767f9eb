import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Descriptors kept free for everything that is not a client connection: the journal, the lock, data files
 * during a checkpoint, backups and restores (archive plus each data file), reports, audit files, stdout,
 * worker threads. A quarter of the limit when the limit is small.
 */
export const DESCRIPTOR_RESERVE = 256;

/** Connection cap used where the descriptor limit cannot be read (Windows has no such per-process limit). */
export const FALLBACK_MAX_CONNECTIONS = 4096;

/**
 * The process's soft limit on open files, or undefined when it cannot be read or is unlimited.
 * Node has no getrlimit; on Linux `/proc/self/limits` has it, elsewhere on POSIX a child shell's `ulimit -n`
 * reports the limit it inherited from us. Node raises the soft limit to the hard one at start-up, so this is
 * the figure that counts.
 */
export function descriptorLimit(): number | undefined {
  // Read once per process: the limit does not change under us, and the shell fallback costs a spawn.
  if (cached === null) cached = readDescriptorLimit();
  return cached;
}

let cached: number | undefined | null = null;

function readDescriptorLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    if (line) return parseLimit(line.slice('Max open files'.length).trim().split(/\s+/)[0]);
  } catch {
    // not Linux: try the shell
  }
  if (process.platform === 'win32') return undefined;
  try {
    return parseLimit(execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8', timeout: 2000 }).trim());
  } catch {
    return undefined;
  }
}

function parseLimit(text: string | undefined): number | undefined {
  const n = Number(text);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/**
 * How many connections the server accepts at once: the descriptor limit minus {@link DESCRIPTOR_RESERVE}
 * (at most a quarter of a small limit), so that 20,000 idle clients can no longer take every descriptor and
 * leave storage unable to open its journal. Beyond it Node closes new connections at once.
 */
export function connectionCap(limit: number | undefined): number {
  if (limit === undefined) return FALLBACK_MAX_CONNECTIONS;
  return limit - Math.min(DESCRIPTOR_RESERVE, Math.floor(limit / 4));
}
