import { writeFileSync } from 'node:fs';
import { constants, crc32, deflateRawSync } from 'node:zlib';

/** One entry of a hand-made ZIP: real content, or `zeros` bytes of zeros (a bomb) with an optional lying size. */
export type BombEntry =
  | { name: string; content: Buffer | string }
  | { name: string; zeros: number; claimedSize?: number };

const MIB = 1024 * 1024;

/**
 * A raw deflate stream of `bytes` zeros, made in milliseconds: one MiB of zeros deflated with a full flush
 * is a self-contained segment, so the segment repeated N times (plus a final empty block) inflates to N MiB.
 * About 1 kB per MiB, like the bombs an attacker sends.
 */
function zerosDeflated(bytes: number): Buffer {
  if (bytes % MIB !== 0) throw new Error('bomb sizes are whole MiB');
  const segment = deflateRawSync(Buffer.alloc(MIB), { level: 9, finishFlush: constants.Z_FULL_FLUSH });
  const end = Buffer.from([0x03, 0x00]); // a final, empty fixed-Huffman block
  return Buffer.concat([...Array.from({ length: bytes / MIB }, () => segment), end]);
}

/**
 * Writes a ZIP by hand (no zip64, so sizes stay under 4 GiB), deflating every entry. Zero entries are never
 * materialised: a 2 GiB bomb costs a couple of MB to build. yauzl does not check CRC-32, so a bomb's is 0.
 */
export function writeBombZip(file: string, entries: BombEntry[]): void {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    let data: Buffer;
    let crc: number;
    let size: number;
    if ('content' in entry) {
      const content = Buffer.isBuffer(entry.content) ? entry.content : Buffer.from(entry.content);
      data = deflateRawSync(content);
      crc = crc32(content);
      size = content.length;
    } else {
      data = zerosDeflated(entry.zeros);
      crc = 0;
      size = entry.claimedSize ?? entry.zeros;
    }
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(0x21, 12); // 1980-01-01
    local.writeUInt32LE(crc >>> 0, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc >>> 0, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  writeFileSync(file, Buffer.concat([...locals, directory, end]));
}

/** A manifest for a bomb: it declares `bytes` for the bomb entry, with a checksum that cannot match. */
export function bombManifest(entry: string, bytes: number): string {
  return JSON.stringify({
    formatVersion: 1,
    criadoEm: '2026-11-30T12:00:00-03:00',
    automatico: false,
    contagens: {},
    arquivos: [{ nome: entry, bytes, sha256: '0'.repeat(64) }],
  });
}
