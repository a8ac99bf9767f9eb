import { hash as digest } from 'node:crypto';
import type { AuditEntry } from './types.js';

/**
 * The audit line format. Each entry is one JSON line whose last two fields are the chain:
 *
 *     {"id":…,"em":…,…,"requestId":…,"hashAnterior":"<64 hex>","hash":"<64 hex>"}\n
 *
 * `hash` is the SHA-256 of the line's own bytes up to (not including) `,"hash":` — so it covers every field
 * and `hashAnterior` — and `hashAnterior` is the previous line's `hash` ({@link GENESIS} for the very first
 * line of the log). Hashing the exact bytes (not a re-serialisation) means verification never depends on
 * how a JSON parser orders keys, and needs no JSON parsing at all: both hashes sit at fixed offsets from
 * the end of the line.
 */

/** `hashAnterior` of the first line ever written. */
export const GENESIS = '0'.repeat(64);

const HASH_TAIL = ',"hash":"'; // + 64 hex + '"}'
const PREV_TAIL = ',"hashAnterior":"'; // + 64 hex + '"'
const SUFFIX_LENGTH = HASH_TAIL.length + 64 + 2;
const PREV_LENGTH = PREV_TAIL.length + 64 + 1;
const HEX64 = /^[0-9a-f]{64}$/;
const HASH_TAIL_BYTES = Buffer.from(HASH_TAIL);
const PREV_TAIL_BYTES = Buffer.from(PREV_TAIL);
const END_BYTES = Buffer.from('"}');

export function sha256Hex(data: string | Buffer): string {
  // One-shot `crypto.hash` is about twice as fast as createHash() for short inputs.
  return digest('sha256', data, 'hex');
}

/** An ISO instant must say its offset: without one, `Date.parse` would read it in the server's zone. */
const INSTANT = /^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:\d{2})$/;

/**
 * Why an entry cannot go into the log (an empty id, an `em` that is not an instant with its offset), as the
 * error to reject its append with; undefined when every entry is fine. Every keeping of the trail checks it.
 */
export function invalidEntries(entries: readonly AuditEntry[]): TypeError | undefined {
  for (const entry of entries) {
    if (typeof entry.id !== 'string' || entry.id === '' || !INSTANT.test(entry.em) || Number.isNaN(Date.parse(entry.em))) {
      return new TypeError(`entrada de auditoria inválida: ${JSON.stringify(entry.id)}`);
    }
  }
  return undefined;
}

/** The fields in their fixed order; optional ones are left out when absent. */
function ordered(entry: AuditEntry): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: entry.id,
    em: entry.em,
    usuarioId: entry.usuarioId ?? null,
    papel: entry.papel ?? null,
    acao: entry.acao,
    recurso: entry.recurso,
  };
  if (entry.recursoId !== undefined) out.recursoId = entry.recursoId;
  if (entry.pacienteIds !== undefined) out.pacienteIds = entry.pacienteIds;
  out.status = entry.status;
  out.ip = entry.ip;
  out.requestId = entry.requestId;
  return out;
}

/** Encodes one entry chained to `previousHash`; returns the line (with its `\n`) and its hash. */
export function encodeLine(entry: AuditEntry, previousHash: string): { line: string; hash: string } {
  const json = JSON.stringify(ordered(entry));
  const body = `${json.slice(0, -1)}${PREV_TAIL}${previousHash}"`;
  const hash = sha256Hex(body);
  return { line: `${body}${HASH_TAIL}${hash}"}\n`, hash };
}

export interface LineChain {
  hashAnterior: string;
  hash: string;
  /** Byte length of the hashed part of the line. */
  bodyLength: number;
}

/**
 * Reads the chain fields of one line (without its `\n`), or `undefined` when the line is not in the format
 * at all (damaged, or not written by us).
 */
export function readChain(line: Buffer): LineChain | undefined {
  if (line.length < SUFFIX_LENGTH + PREV_LENGTH + 2) return undefined;
  const bodyLength = line.length - SUFFIX_LENGTH;
  const prevStart = bodyLength - PREV_LENGTH;
  // Byte comparisons, not toString(): verify runs this on every line of every month.
  if (
    HASH_TAIL_BYTES.compare(line, bodyLength, bodyLength + HASH_TAIL.length) !== 0 ||
    END_BYTES.compare(line, line.length - 2) !== 0 ||
    PREV_TAIL_BYTES.compare(line, prevStart, prevStart + PREV_TAIL.length) !== 0
  ) {
    return undefined;
  }
  const hash = line.toString('latin1', bodyLength + HASH_TAIL.length, line.length - 2);
  const hashAnterior = line.toString('latin1', prevStart + PREV_TAIL.length, bodyLength - 1);
  if (!HEX64.test(hash) || !HEX64.test(hashAnterior)) return undefined;
  return { hashAnterior, hash, bodyLength };
}

/** True when the line's stored hash is the hash of its bytes. */
export function hashMatches(line: Buffer, chain: LineChain): boolean {
  return sha256Hex(line.subarray(0, chain.bodyLength)) === chain.hash;
}

/**
 * What the next line chains to after `line`: its stored hash when the line is well-formed, otherwise the
 * hash of its raw bytes — so a damaged last line is kept as evidence (verify reports it) instead of being
 * silently cut, and the log can still grow after it.
 */
export function chainHashOf(line: Buffer): string {
  return readChain(line)?.hash ?? sha256Hex(line);
}

/** Month files are named by the UTC month of `em`: `2026-11.jsonl`. */
export const MONTH_FILE = /^(\d{4}-\d{2})\.jsonl$/;

let lastMonth = { name: '', from: 0, to: 0 };

/** The UTC month (`2026-11`) of an instant string. Cached by range: consecutive entries share a month. */
export function monthOf(em: string): string {
  const t = Date.parse(em);
  if (t >= lastMonth.from && t < lastMonth.to) return lastMonth.name;
  const date = new Date(t);
  const name = date.toISOString().slice(0, 7);
  lastMonth = { name, from: Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1), to: monthEndMs(name) };
  return name;
}

export function monthFileName(month: string): string {
  return `${month}.jsonl`;
}

/** First instant after the end of `month` (UTC), in ms. */
export function monthEndMs(month: string): number {
  const [year, mon] = month.split('-').map(Number) as [number, number];
  return Date.UTC(year, mon, 1);
}
