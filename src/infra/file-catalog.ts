import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { notFound } from '../core/errors.js';
import { formatInstant } from '../core/time.js';

export interface CatalogEntry {
  nome: string;
  tamanhoBytes: number;
  criadoEm: string;
}

/**
 * The files of one kind in a directory (backups, reports): listed newest first, and resolved by name only
 * when the name matches the kind's pattern — so `../` and any other path trick is simply "not found".
 *
 * "Newest" is the order of `sortKey(name)` (default: the name itself), never the files' mtimes: a name
 * holds its creation time, and a copied or touched file must not change which backups are pruned.
 */
export class FileCatalog {
  constructor(
    private readonly dir: string,
    private readonly pattern: RegExp,
    private readonly what: string,
    private readonly timezone: string,
    private readonly sortKey: (name: string) => string = (name) => name,
  ) {}

  /** Matching names, newest first (no `stat`: cheap, and safe while other processes prune). */
  async names(): Promise<string[]> {
    const names = (await fsp.readdir(this.dir).catch(() => [] as string[])).filter((n) => this.pattern.test(n));
    const keyed = names.map((n) => [this.sortKey(n), n] as const);
    keyed.sort(([a, an], [b, bn]) => (a === b ? (an < bn ? 1 : an > bn ? -1 : 0) : a < b ? 1 : -1));
    return keyed.map(([, n]) => n);
  }

  async list(): Promise<CatalogEntry[]> {
    const names = await this.names();
    const out: CatalogEntry[] = [];
    for (const nome of names) {
      const stat = await fsp.stat(path.join(this.dir, nome)).catch(() => undefined);
      if (stat) out.push({ nome, tamanhoBytes: stat.size, criadoEm: formatInstant(stat.mtime, this.timezone) });
    }
    return out;
  }

  async pathOf(nome: string): Promise<string> {
    if (!this.pattern.test(nome)) throw notFound(this.what);
    const file = path.join(this.dir, nome);
    if (!(await this.exists(nome))) throw notFound(this.what);
    return file;
  }

  /**
   * Removes all but the newest `keep` files, and never `justMade` (another process may have made newer
   * ones meanwhile: the file a caller just reported must still be there). A file already gone counts as
   * removed; other failures are returned, never thrown, so pruning cannot fail the work that preceded it.
   */
  async prune(keep: number, spared: readonly string[]): Promise<{ removed: string[]; failed: { nome: string; error: unknown }[] }> {
    const removed: string[] = [];
    const failed: { nome: string; error: unknown }[] = [];
    for (const nome of (await this.names()).slice(keep)) {
      if (spared.includes(nome)) continue;
      try {
        await fsp.rm(path.join(this.dir, nome), { force: true });
        removed.push(nome);
      } catch (error) {
        failed.push({ nome, error });
      }
    }
    return { removed, failed };
  }

  exists(nome: string): Promise<boolean> {
    return fsp.access(path.join(this.dir, nome)).then(
      () => true,
      () => false,
    );
  }
}
