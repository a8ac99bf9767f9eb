/**
 * A table of files the server keeps (backups, reports): name, date, size, a `Baixar` link and whatever other
 * columns or actions the page adds. The download is a plain link: the session cookie authorises it.
 */
import type { ComponentChildren } from 'preact';
import { formatBytes, formatInstant } from '../pages/admin/admin-logic.js';
import { TableHead, TableScroll } from './table-scroll.js';

/** What the API says of every stored file (`BackupInfo`, `ReportInfo`). */
export interface StoredFile {
  nome: string;
  criadoEm: string;
  tamanhoBytes: number;
}

export interface FileColumn<F> {
  header: string;
  cell: (file: F) => ComponentChildren;
}

export interface FileTableProps<F extends StoredFile> {
  /** Names the table and its scrolling region. */
  caption: string;
  files: readonly F[];
  /** The download address of a file. */
  href: (nome: string) => string;
  /** Heading of the date column (`Criado em`, `Gerado em`). */
  dateHeader: string;
  /** Shown instead of an empty table. */
  empty: string;
  /** Columns after the size. */
  columns?: readonly FileColumn<F>[];
  /** Buttons after `Baixar` (e.g. `Restaurar`). */
  actions?: (file: F) => ComponentChildren;
}

export function FileTable<F extends StoredFile>({ caption, files, href, dateHeader, empty, columns = [], actions }: FileTableProps<F>) {
  if (files.length === 0) return <p class="notice">{empty}</p>;
  return (
    <TableScroll label={caption}>
      <table>
        <caption class="visually-hidden">{caption}</caption>
        <TableHead columns={['Nome', dateHeader, 'Tamanho', ...columns.map((c) => c.header)]} actions />
        <tbody>
          {files.map((f) => (
            <tr key={f.nome} data-arquivo={f.nome}>
              <td>
                <code>{f.nome}</code>
              </td>
              <td class="nowrap">{formatInstant(f.criadoEm)}</td>
              <td class="nowrap">{formatBytes(f.tamanhoBytes)}</td>
              {columns.map((c) => (
                <td key={c.header}>{c.cell(f)}</td>
              ))}
              <td class="row-actions">
                {/* The visible word is the same on every row; the accessible name says which file. */}
                <a class="button" href={href(f.nome)} download={f.nome} aria-label={`Baixar ${f.nome}`}>
                  Baixar
                </a>
                {actions && <> {actions(f)}</>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}
