import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { countOf, mayHave, pairKey, type BlockSummary } from './block-summary.js';
import type { AuditEntry, AuditPage, AuditQuery, StoredAuditEntry } from './types.js';

const NEWLINE = 0x0a;

interface Bounds {
  de: number;
  ate: number;
}

/** Could the block hold a match? False only when its summary proves it cannot. */
function mayMatch(block: BlockSummary, q: AuditQuery, { de, ate }: Bounds): boolean {
  if (block.lines === 0) return false;
  if (block.opaque) return true;
  if (block.maxT < de || block.minT > ate) return false;
  if (q.usuarioId !== undefined && !mayHave(block.usuario, q.usuarioId)) return false;
  if (q.acao !== undefined && !mayHave(block.acao, q.acao)) return false;
  if (q.pacienteId !== undefined && !mayHave(block.paciente, q.pacienteId)) return false;
  if (q.usuarioId !== undefined && q.acao !== undefined && block.pairs && !block.pairs.has(pairKey(q.usuarioId, q.acao))) {
    return false;
  }
  return true;
}

/** The block's number of matches when its summary knows it exactly, without reading the block. */
function knownCount(block: BlockSummary, q: AuditQuery, { de, ate }: Bounds): number | undefined {
  if (block.opaque || block.minT < de || block.maxT > ate) return undefined;
  const { usuarioId, acao, pacienteId } = q;
  if (pacienteId !== undefined) {
    if (usuarioId !== undefined || acao !== undefined) return undefined;
    return countOf(block.paciente, pacienteId) ?? block.frequentPacientes?.get(pacienteId);
  }
  if (usuarioId !== undefined && acao !== undefined) return block.pairs ? (block.pairs.get(pairKey(usuarioId, acao)) ?? 0) : undefined;
  if (usuarioId !== undefined) return countOf(block.usuario, usuarioId);
  if (acao !== undefined) return countOf(block.acao, acao);
  return block.lines;
}

function matches(entry: StoredAuditEntry, q: AuditQuery, { de, ate }: Bounds): boolean {
  if (q.usuarioId !== undefined && entry.usuarioId !== q.usuarioId) return false;
  if (q.acao !== undefined && entry.acao !== q.acao) return false;
  if (q.pacienteId !== undefined && !(Array.isArray(entry.pacienteIds) && entry.pacienteIds.includes(q.pacienteId))) return false;
  const t = Date.parse(entry.em);
  return t >= de && t <= ate;
}

function publicEntry(stored: StoredAuditEntry): AuditEntry {
  const { hash: _hash, hashAnterior: _previous, ...entry } = stored;
  return entry;
}

const EM_KEY = Buffer.from('"em":"');

/** `em` of a line in ms, read in place (every line starts `{"id":…,"em":"…"`); NaN if not found. */
function timeOfLine(buffer: Buffer, from: number, to: number): number {
  const key = buffer.indexOf(EM_KEY, from);
  if (key === -1 || key >= to) return Number.NaN;
  const start = key + EM_KEY.length;
  const end = buffer.indexOf(0x22, start);
  return end === -1 || end >= to ? Number.NaN : Date.parse(buffer.toString('latin1', start, end));
}

/** One block's matches: byte ranges of the matching lines in file order, and how to read one. */
interface BlockMatches {
  ranges: [number, number][];
  /** The entry of a matching line (undefined only for a damaged line matched by its `em` alone). */
  entry(range: [number, number]): AuditEntry | undefined;
}

/**
 * Reads one block and finds its matches. With a filter on an id, only lines that contain the id's JSON
 * string (found by a byte search over the block) are parsed; with only a period, just each line's `em` is
 * read. Entries are decoded in full only for the page.
 */
async function scanBlock(handle: FileHandle, block: BlockSummary, q: AuditQuery, bounds: Bounds): Promise<BlockMatches> {
  const buffer = Buffer.allocUnsafe(block.end - block.start);
  await handle.read(buffer, 0, buffer.length, block.start);
  const parse = (from: number, to: number): StoredAuditEntry | undefined => {
    try {
      return JSON.parse(buffer.toString('utf8', from, to)) as StoredAuditEntry;
    } catch {
      return undefined; // a damaged line is verify's business; it cannot match a query
    }
  };
  const ranges: [number, number][] = [];
  const value = q.pacienteId ?? q.usuarioId ?? q.acao;
  if (value === undefined) {
    for (let start = 0; start < buffer.length; ) {
      const end = buffer.indexOf(NEWLINE, start);
      if (end === -1) break;
      let t = timeOfLine(buffer, start, end);
      if (Number.isNaN(t)) t = Date.parse(parse(start, end)?.em ?? '');
      if (t >= bounds.de && t <= bounds.ate) ranges.push([start, end]);
      start = end + 1;
    }
  } else {
    const needle = Buffer.from(JSON.stringify(value));
    for (let at = buffer.indexOf(needle); at !== -1; ) {
      const start = buffer.lastIndexOf(NEWLINE, at) + 1;
      const end = buffer.indexOf(NEWLINE, at);
      if (end === -1) break;
      const entry = parse(start, end);
      if (entry && matches(entry, q, bounds)) ranges.push([start, end]);
      at = buffer.indexOf(needle, end + 1);
    }
  }
  return {
    ranges,
    entry: ([from, to]) => {
      const stored = parse(from, to);
      return stored && publicEntry(stored);
    },
  };
}

export interface IndexedFile {
  file: string;
  blocks: BlockSummary[];
}

/**
 * Answers a query over month files (given newest first) with their block summaries. Blocks are visited
 * newest first; a block whose summary rules it out is skipped, a block whose match count is known and that
 * lies wholly before the page (`offset`) or after it is counted without being read. So a rare filter reads
 * a handful of blocks, and `total` stays exact.
 */
export async function runQuery(dir: string, files: IndexedFile[], q: AuditQuery): Promise<AuditPage> {
  const bounds = { de: q.de?.getTime() ?? Number.NEGATIVE_INFINITY, ate: q.ate?.getTime() ?? Number.POSITIVE_INFINITY };
  const items: AuditEntry[] = [];
  let skip = q.offset;
  let total = 0;
  const handles = new Map<string, FileHandle>();
  try {
    for (const { file, blocks } of files) {
      for (let i = blocks.length - 1; i >= 0; i--) {
        const block = blocks[i]!;
        if (!mayMatch(block, q, bounds)) continue;
        let count = knownCount(block, q, bounds);
        const pageWants = items.length < q.limit && (count === undefined || skip < count);
        if (count === undefined || pageWants) {
          let handle = handles.get(file);
          if (!handle) {
            handle = await fs.open(path.join(dir, file), 'r');
            handles.set(file, handle);
          }
          const found = await scanBlock(handle, block, q, bounds);
          count = found.ranges.length;
          if (pageWants && skip < count) {
            // `ranges` are oldest first; the page wants the newest first.
            const take = Math.min(count - skip, q.limit - items.length);
            for (let k = 0; k < take; k++) {
              const entry = found.entry(found.ranges[count - 1 - skip - k]!);
              if (entry) items.push(entry);
            }
          }
        }
        skip = Math.max(0, skip - count);
        total += count;
      }
    }
  } finally {
    await Promise.all([...handles.values()].map((handle) => handle.close()));
  }
  return { items, total, limit: q.limit, offset: q.offset };
}
