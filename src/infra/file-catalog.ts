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
 */
export class FileCatalog {
  constructor(
    private readonly dir: string,
    private readonly pattern: RegExp,
    private readonly what: string,
    private readonly timezone: string,
  ) {}

  async list(): Promise<CatalogEntry[]> {
    const names = (await fsp.readdir(this.dir).catch(() => [] as string[])).filter((n) => this.pattern.test(n)).sort().reverse();
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

  exists(nome: string): Promise<boolean> {
    return fsp.access(path.join(this.dir, nome)).then(
      () => true,
      () => false,
    );
  }
}
