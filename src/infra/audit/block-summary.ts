import { Bloom } from './bloom.js';

/**
 * The per-block summary the query index is made of. A month file is cut into blocks of consecutive lines
 * (at most {@link BLOCK_LINES} lines or {@link BLOCK_MAX_BYTES} bytes); each block remembers its byte range,
 * its time span and, per filterable field, either the exact count of entries per value (when the block has
 * few distinct values: always for `acao`, usually for `usuarioId`) or a Bloom filter (typically
 * `pacienteIds`). A query reads only blocks whose summary says "may match", and answers `total` from the
 * counts without reading a block when it can.
 */

export const BLOCK_LINES = 4096;
export const BLOCK_MAX_BYTES = 4 * 1024 * 1024;

/** Distinct values above which a field is summarised by a Bloom filter instead of exact counts. */
const COUNT_CAPS = { usuario: 256, paciente: 64, acao: 256, pairs: 1024 } as const;

export type FieldSummary = { counts: Map<string, number> } | { bloom: Bloom };

export interface BlockSummary {
  /** Byte range `[start, end)` of the block's lines in the month file. */
  start: number;
  end: number;
  lines: number;
  /** Earliest and latest `em` in the block, in ms. */
  minT: number;
  maxT: number;
  /** The block holds a line that could not be read: it may match anything and its counts are unknown. */
  opaque: boolean;
  usuario: FieldSummary;
  paciente: FieldSummary;
  acao: FieldSummary;
  /** Count per `usuarioId\0acao`, when the block has few such pairs. */
  pairs?: Map<string, number> | undefined;
  /**
   * When `paciente` is a Bloom filter: exact counts of the pacientes named at least twice in the block
   * (the most named first, at most {@link FREQUENT_CAP}). A paciente who appears all through the month is
   * then counted without reading every block.
   */
  frequentPacientes?: Map<string, number> | undefined;
}

const FREQUENT_CAP = 256;

/** What the index keeps of one entry. */
export interface IndexedFields {
  t: number;
  usuarioId: string | null;
  acao: string;
  pacienteIds?: string[] | undefined;
}

export function mayHave(field: FieldSummary, value: string): boolean {
  return 'counts' in field ? field.counts.has(value) : field.bloom.mayHave(value);
}

/** Exact number of entries with `value`, or undefined when the field is only a Bloom filter. */
export function countOf(field: FieldSummary, value: string): number | undefined {
  return 'counts' in field ? (field.counts.get(value) ?? 0) : undefined;
}

export const pairKey = (usuarioId: string, acao: string): string => `${usuarioId}\u0000${acao}`;

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** Accumulates the block being filled; {@link seal} turns it into its compact, persistable form. */
export class BlockBuilder {
  end: number;
  lines = 0;
  minT = Number.POSITIVE_INFINITY;
  maxT = Number.NEGATIVE_INFINITY;
  opaque = false;
  /** `hash` of the last line added: lets a saved index check that the file still ends its blocks the same. */
  lastHash = '';
  private readonly usuario = new Map<string, number>();
  private readonly paciente = new Map<string, number>();
  private readonly acao = new Map<string, number>();
  private readonly pairs = new Map<string, number>();

  constructor(readonly start: number) {
    this.end = start;
  }

  /** Adds one line ending at byte `end`; `fields` undefined means the line could not be read. */
  add(fields: IndexedFields | undefined, end: number, hash: string): void {
    this.end = end;
    this.lines++;
    this.lastHash = hash;
    if (!fields || Number.isNaN(fields.t)) {
      this.opaque = true;
      return;
    }
    if (fields.t < this.minT) this.minT = fields.t;
    if (fields.t > this.maxT) this.maxT = fields.t;
    bump(this.acao, fields.acao);
    if (fields.usuarioId !== null) {
      bump(this.usuario, fields.usuarioId);
      bump(this.pairs, pairKey(fields.usuarioId, fields.acao));
    }
    // An entry naming one paciente twice still counts once.
    for (const pacienteId of new Set(fields.pacienteIds ?? [])) bump(this.paciente, pacienteId);
  }

  get full(): boolean {
    return this.lines >= BLOCK_LINES || this.end - this.start >= BLOCK_MAX_BYTES;
  }

  /**
   * A copy of the block as it is now, exact (no caps): used for the block still being filled. Copied so
   * that appends landing while a query runs do not change counts the query already relies on.
   */
  live(): BlockSummary {
    return {
      ...this.range(),
      usuario: { counts: new Map(this.usuario) },
      paciente: { counts: new Map(this.paciente) },
      acao: { counts: new Map(this.acao) },
      pairs: new Map(this.pairs),
    };
  }

  /** The finished block, with large value sets turned into Bloom filters. */
  seal(): BlockSummary {
    const field = (map: Map<string, number>, cap: number): FieldSummary =>
      map.size <= cap ? { counts: map } : { bloom: Bloom.forValues(map.keys(), map.size) };
    return {
      ...this.range(),
      usuario: field(this.usuario, COUNT_CAPS.usuario),
      paciente: field(this.paciente, COUNT_CAPS.paciente),
      acao: field(this.acao, COUNT_CAPS.acao),
      pairs: this.pairs.size <= COUNT_CAPS.pairs ? this.pairs : undefined,
      frequentPacientes: this.paciente.size <= COUNT_CAPS.paciente ? undefined : this.frequent(),
    };
  }

  private frequent(): Map<string, number> {
    const frequent = [...this.paciente].filter(([, n]) => n >= 2);
    frequent.sort((a, b) => b[1] - a[1]);
    return new Map(frequent.slice(0, FREQUENT_CAP));
  }

  private range() {
    return { start: this.start, end: this.end, lines: this.lines, minT: this.minT, maxT: this.maxT, opaque: this.opaque };
  }
}

// ---- persisted form (JSON) ----

type SavedField = { c: [string, number][] } | { b: string; k: number };

export interface SavedBlock {
  s: number;
  e: number;
  n: number;
  t0: number | null;
  t1: number | null;
  o: boolean;
  u: SavedField;
  p: SavedField;
  a: SavedField;
  ua?: [string, number][];
  pf?: [string, number][];
}

function saveField(field: FieldSummary): SavedField {
  return 'counts' in field ? { c: [...field.counts] } : { b: field.bloom.toBase64(), k: field.bloom.hashes };
}

function loadField(saved: SavedField): FieldSummary {
  return 'c' in saved ? { counts: new Map(saved.c) } : { bloom: Bloom.fromBase64(saved.b, saved.k) };
}

export function saveBlock(block: BlockSummary): SavedBlock {
  const finite = (t: number) => (Number.isFinite(t) ? t : null);
  return {
    s: block.start,
    e: block.end,
    n: block.lines,
    t0: finite(block.minT),
    t1: finite(block.maxT),
    o: block.opaque,
    u: saveField(block.usuario),
    p: saveField(block.paciente),
    a: saveField(block.acao),
    ...(block.pairs ? { ua: [...block.pairs] } : {}),
    ...(block.frequentPacientes ? { pf: [...block.frequentPacientes] } : {}),
  };
}

export function loadBlock(saved: SavedBlock): BlockSummary {
  return {
    start: saved.s,
    end: saved.e,
    lines: saved.n,
    minT: saved.t0 ?? Number.POSITIVE_INFINITY,
    maxT: saved.t1 ?? Number.NEGATIVE_INFINITY,
    opaque: saved.o,
    usuario: loadField(saved.u),
    paciente: loadField(saved.p),
    acao: loadField(saved.a),
    pairs: saved.ua ? new Map(saved.ua) : undefined,
    frequentPacientes: saved.pf ? new Map(saved.pf) : undefined,
  };
}
