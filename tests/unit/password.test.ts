import { describe, expect, it } from 'vitest';
import { hashPassword, isUsableHash, verifyPassword } from '../../src/infra/password.js';
import { NO_PASSWORD_HASH } from '../helpers/hashes.js';

const [, , , , SALT, KEY] = NO_PASSWORD_HASH.split('$') as string[];
const stored = (n: string, r = '8', p = '1', salt = SALT!, key = KEY!) => ['scrypt', n, r, p, salt, key].join('$');

describe('password hashes', () => {
  it('when a password is hashed, then it verifies, another does not, and the hash is usable', async () => {
    const hash = await hashPassword('uma-senha-bem-longa');
    expect(isUsableHash(hash)).toBe(true);
    expect(await verifyPassword('uma-senha-bem-longa', hash)).toBe(true);
    expect(await verifyPassword('outra-senha-qualquer', hash)).toBe(false);
  });

  it('when a stored hash is malformed or asks for more than the limits, then it is not usable and verifies nothing, without throwing', async () => {
    const bad = [
      stored('abc'), stored('3'), stored('0'), stored('30000'), stored(String(2 ** 13)), stored(String(2 ** 18)), stored(String(2 ** 20)),
      stored('32768', '0'), stored('32768', '9'), stored('32768', '8', '3'), stored('32768', '8', '1.5'), stored(' 32768'), stored('032768'),
      stored('32768', '8', '1', ''), stored('32768', '8', '1', 'AA'), stored('32768', '8', '1', SALT!, 'AAAA'),
      `${stored('32768')}$extra`, 'scrypt$hash', 'bcrypt$32768$8$1$x$y', '',
    ];
    for (const hash of bad) {
      expect(isUsableHash(hash), hash).toBe(false);
      await expect(verifyPassword('qualquer', hash), hash).resolves.toBe(false);
    }
    // The bounds themselves are usable.
    for (const hash of [stored(String(2 ** 14)), stored(String(2 ** 17)), stored('32768', '1', '2'), stored(String(2 ** 17), '8', '2')]) {
      expect(isUsableHash(hash), hash).toBe(true);
    }
  });
});
