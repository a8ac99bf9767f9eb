import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashing with scrypt (memory-hard, in `node:crypto`, no native addon to install). The cost is
 * N = 2^15, r = 8, p = 1: 32 MiB and roughly 50–100 ms per hash on this class of machine, run on libuv's
 * thread pool so the event loop keeps serving while a sign-in is checked. Stored as
 * `scrypt$N$r$p$salt$hash` (base64url), so the cost can be raised later without breaking old hashes.
 */
const DEFAULT = { N: 2 ** 15, r: 8, p: 1 };
const KEY_LENGTH = 32;

function derive(password: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { ...params, maxmem: 128 * params.N * params.r * 2 };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, options, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

/** Hashes a password with a fresh random salt. */
export async function hashPassword(password: string, params = DEFAULT): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, params);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/**
 * The costs a stored hash may ask for: N a power of two from 2^14 to 2^17, r from 1 to 8, p 1 or 2 — at most 128 MiB
 * (128 · N · r) and eight times today's work. Today's hashes use 2^15, 8, 1; the room above is for raising the cost
 * later. A hash that asks for more (or for nonsense) is not computed: one restored from a hand-made backup could
 * otherwise make each sign-in with its e-mail take seconds and a gigabyte, or throw (a sign-in answering 500).
 */
const LIMITS = { minLogN: 14, maxLogN: 17, maxR: 8, maxP: 2 };

interface StoredHash {
  params: { N: number; r: number; p: number };
  salt: Buffer;
  hash: Buffer;
}

/** `stored` as `scrypt$N$r$p$salt$hash` within {@link LIMITS}, or undefined. */
function parseHash(stored: string): StoredHash | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = parts.slice(1, 4).map((v) => (/^[1-9]\d{0,9}$/.test(v!) ? Number(v) : NaN)) as [number, number, number];
  const logN = Math.log2(N);
  if (!Number.isInteger(logN) || logN < LIMITS.minLogN || logN > LIMITS.maxLogN) return undefined;
  if (!(r >= 1 && r <= LIMITS.maxR && p >= 1 && p <= LIMITS.maxP)) return undefined;
  const salt = Buffer.from(parts[4]!, 'base64url');
  const hash = Buffer.from(parts[5]!, 'base64url');
  if (salt.length < 8 || salt.length > 64 || hash.length !== KEY_LENGTH) return undefined;
  return { params: { N, r, p }, salt, hash };
}

/** True when `stored` is a hash {@link verifyPassword} computes (restore refuses accounts whose hash is not). */
export function isUsableHash(stored: string): boolean {
  return parseHash(stored) !== undefined;
}

/**
 * Compares in constant time; a malformed stored hash, or one asking for more than {@link LIMITS}, simply does not
 * match — after the work of a hash of today's cost, so that the answer's time does not tell such an account from an
 * unknown e-mail (checked against a decoy hash).
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed) {
    await derive(password, UNUSABLE_SALT, DEFAULT);
    return false;
  }
  const key = await derive(password, parsed.salt, parsed.params);
  return timingSafeEqual(key, parsed.hash);
}

/** The salt of the work done for an unusable hash (its result is thrown away). */
const UNUSABLE_SALT = Buffer.alloc(16);

/**
 * A hash of a password nobody knows, computed once: a sign-in with an unknown e-mail is checked against it,
 * so it costs what a wrong password costs and the two answers cannot be told apart by their time.
 */
export function decoyHash(params = DEFAULT): Promise<string> {
  return hashPassword(randomBytes(24).toString('base64url'), params);
}

/** A random password people can type: 20 characters of base64url (120 bits). */
export function generatePassword(): string {
  return randomBytes(15).toString('base64url');
}
