import * as fsSync from 'node:fs';
import * as fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { StorageFs } from '../../src/infra/storage/json/file-store.js';

/**
 * What reached (or was asked of) the disk, in the order the calls completed. Paths are relative to the data
 * directory; `ino` is the recorder's own number for a file (the OS reuses inode numbers, this never does).
 */
export type FsOp =
  | { kind: 'create'; path: string; ino: number }
  | { kind: 'write'; ino: number; offset: number; data: Buffer }
  | { kind: 'truncate'; ino: number; size: number }
  /** fsync or fdatasync of a file: its contents so far are durable. */
  | { kind: 'fsync'; ino: number; site: string }
  | { kind: 'rename'; from: string; to: string; ino: number }
  | { kind: 'unlink'; path: string; ino: number }
  /** fsync of the data directory: every name change so far is durable. */
  | { kind: 'dirsync'; site: string }
  /** The workload was told that a commit is durable (`label` names it, as the oracle knows it). */
  | { kind: 'ack'; label: string }
  /** The workload is about to restore these records (a restore becomes a commit at its intent file). */
  | { kind: 'restore'; label: string; records: ReadonlyMap<string, readonly { id: string }[]> }
  /** Mutation mode: here a sync was asked for and not done (no durability; marks where to look). */
  | { kind: 'dropped'; site: string };

export interface RecordingOptions {
  /** A sync point (see {@link syncSite}) whose calls are made no-ops: the mutation mode. */
  drop?: string | undefined;
}

/**
 * One log shared by every store (every "process") writing the directory. The stores run on the real file
 * system (a tmpfs folder, so syncs cost nothing); the log is what a power cut is computed from.
 */
export class DiskLog {
  readonly ops: FsOp[] = [];
  /** Sync points seen, with how many calls each made. */
  readonly sites = new Map<string, number>();
  private nextIno = 1;
  /** Real (dev:ino) of each live file → the recorder's number. */
  private readonly inos = new Map<string, number>();

  constructor(
    readonly dir: string,
    readonly options: RecordingOptions = {},
  ) {}

  ack(label: string): void {
    this.ops.push({ kind: 'ack', label });
  }

  restoring(label: string, records: ReadonlyMap<string, readonly { id: string }[]>): void {
    this.ops.push({ kind: 'restore', label, records });
  }

  /** A StorageFs for one store: every mutation goes to the real file system, then into the log. */
  fs(): Required<StorageFs> {
    const rel = (p: unknown) => path.relative(this.dir, String(p));
    const open = async (file: Parameters<typeof fsp.open>[0], flags?: string | number, mode?: fsSync.Mode): Promise<FileHandle> => {
      const name = rel(file);
      const existed = fsSync.existsSync(String(file));
      const handle = await fsp.open(file, flags, mode);
      const stat = await handle.stat();
      if (stat.isDirectory()) return this.directoryHandle(handle);
      const creates = !existed && typeof flags === 'string' && /[wax+]/.test(flags);
      const ino = creates ? this.created(stat) : this.known(name, stat);
      if (creates) this.ops.push({ kind: 'create', path: name, ino });
      return this.fileHandle(handle, ino, typeof flags === 'string' && flags.startsWith('a'));
    };
    return {
      open,
      rename: async (from, to) => {
        const ino = this.known(rel(from), await fsp.stat(from));
        await fsp.rename(from, to);
        this.ops.push({ kind: 'rename', from: rel(from), to: rel(to), ino });
      },
      unlink: async (file) => {
        const ino = this.known(rel(file), await fsp.stat(file));
        await fsp.unlink(file);
        this.forget(ino);
        this.ops.push({ kind: 'unlink', path: rel(file), ino });
      },
      rm: async (file, options) => {
        const stat = await fsp.stat(file).catch(() => undefined);
        if (!stat) {
          if (options?.force) return;
          throw Object.assign(new Error(`ENOENT: ${String(file)}`), { code: 'ENOENT' });
        }
        const ino = stat.isFile() ? this.known(rel(file), stat) : undefined;
        await fsp.rm(file, options);
        if (ino !== undefined) {
          this.forget(ino);
          this.ops.push({ kind: 'unlink', path: rel(file), ino });
        }
      },
      // The data directory itself is taken as existing (its own durability is its parent's business).
      mkdir: (dir, options) => fsp.mkdir(dir, options),
      writeFile: async (file, data) => {
        const handle = await open(file as string, 'w');
        try {
          await handle.writeFile(data as string | Buffer);
        } finally {
          await handle.close();
        }
      },
    } as Required<StorageFs>;
  }

  private created(stat: fsSync.Stats): number {
    const ino = this.nextIno++;
    this.inos.set(`${stat.dev}:${stat.ino}`, ino);
    return ino;
  }

  private known(name: string, stat: fsSync.Stats): number {
    const ino = this.inos.get(`${stat.dev}:${stat.ino}`);
    if (ino === undefined) throw new Error(`arquivo não registrado: ${name}`);
    return ino;
  }

  private forget(ino: number): void {
    for (const [key, value] of this.inos) if (value === ino) this.inos.delete(key);
  }

  private sync(kind: 'fsync' | 'dirsync', ino: number): boolean {
    const site = syncSite(new Error().stack ?? '');
    this.sites.set(site, (this.sites.get(site) ?? 0) + 1);
    if (site === this.options.drop) {
      this.ops.push({ kind: 'dropped', site });
      return false;
    }
    this.ops.push(kind === 'fsync' ? { kind, ino, site } : { kind, site });
    return true;
  }

  private fileHandle(handle: FileHandle, ino: number, append: boolean): FileHandle {
    let position = 0;
    const wrapped = Object.create(handle) as FileHandle;
    const write = async (buffer: Buffer, offset = 0, length = buffer.length - offset) => {
      const at = append ? (await handle.stat()).size : position;
      const result = await handle.write(buffer, offset, length, at);
      this.ops.push({ kind: 'write', ino, offset: at, data: Buffer.from(buffer.subarray(offset, offset + result.bytesWritten)) });
      position = at + result.bytesWritten;
      return result;
    };
    return Object.assign(wrapped, {
      write,
      writeFile: async (data: string | Buffer) => {
        await write(typeof data === 'string' ? Buffer.from(data) : data);
      },
      truncate: async (size = 0) => {
        await handle.truncate(size);
        this.ops.push({ kind: 'truncate', ino, size });
      },
      sync: async () => {
        if (this.sync('fsync', ino)) await handle.sync();
      },
      datasync: async () => {
        if (this.sync('fsync', ino)) await handle.datasync();
      },
      stat: () => handle.stat(),
      close: () => handle.close(),
    });
  }

  private directoryHandle(handle: FileHandle): FileHandle {
    return Object.assign(Object.create(handle) as FileHandle, {
      sync: async () => {
        if (this.sync('dirsync', 0)) await handle.sync();
      },
      close: () => handle.close(),
    });
  }
}

/**
 * A sync point: the storage code's call site that asked for the sync, as `function:line` of the first two
 * frames in the store's files (so each `syncDirectory()` caller is its own point).
 */
export function syncSite(stack: string): string {
  const frames = stack
    .split('\n')
    .filter((line) => /src[\\/]infra[\\/]storage[\\/]json[\\/]/.test(line))
    .map((line) => {
      const fn = /at (?:async )?(?:\w+\.)?(\w+) /.exec(line)?.[1] ?? '?';
      const where = /([\w-]+\.ts):(\d+)/.exec(line);
      return `${fn}@${where?.[1] ?? '?'}:${where?.[2] ?? '?'}`;
    });
  return frames.slice(0, 2).join(' ← ') || 'desconhecido';
}
