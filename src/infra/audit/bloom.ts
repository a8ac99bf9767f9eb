/**
 * A small Bloom filter over strings: "maybe present" or "certainly absent". Sized at 10 bits per value
 * with 7 hash functions, about 1% false positives — a false positive only costs reading one block that
 * turns out to hold no match; a false negative cannot happen.
 */
export class Bloom {
  static readonly HASHES = 7;

  private constructor(
    readonly bits: Uint8Array,
    readonly hashes: number,
  ) {}

  static forValues(values: Iterable<string>, count: number): Bloom {
    const bytes = Math.max(8, Math.ceil((count * 10) / 8));
    const bloom = new Bloom(new Uint8Array(bytes), Bloom.HASHES);
    for (const value of values) bloom.add(value);
    return bloom;
  }

  static fromBase64(data: string, hashes: number): Bloom {
    return new Bloom(new Uint8Array(Buffer.from(data, 'base64')), hashes);
  }

  toBase64(): string {
    return Buffer.from(this.bits.buffer, this.bits.byteOffset, this.bits.byteLength).toString('base64');
  }

  add(value: string): void {
    const size = this.bits.length * 8;
    const [h1, h2] = hashPair(value);
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + Math.imul(i, h2)) >>> 0;
      const at = bit % size;
      this.bits[at >>> 3]! |= 1 << (at & 7);
    }
  }

  mayHave(value: string): boolean {
    const size = this.bits.length * 8;
    const [h1, h2] = hashPair(value);
    for (let i = 0; i < this.hashes; i++) {
      const at = ((h1 + Math.imul(i, h2)) >>> 0) % size;
      if ((this.bits[at >>> 3]! & (1 << (at & 7))) === 0) return false;
    }
    return true;
  }
}

/** Two independent 32-bit FNV-1a variants (double hashing, Kirsch–Mitzenmacher). */
function hashPair(value: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return [a >>> 0, (b | 1) >>> 0];
}
