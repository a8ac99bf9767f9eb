import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * The encrypted backup file (`backup-…zip.enc`), version 1:
 *
 * | bytes | content                                            |
 * |-------|----------------------------------------------------|
 * | 7     | magic `AGMDBKP`                                    |
 * | 1     | format version (1)                                 |
 * | 12    | random nonce (IV), fresh for every file            |
 * | n     | AES-256-GCM ciphertext of the whole ZIP            |
 * | 16    | GCM authentication tag                             |
 *
 * The 20-byte header is the GCM additional authenticated data, so changing the version or the nonce fails
 * the tag like any other byte. A random 96-bit nonce per file is safe for far more backups than a clinic
 * will ever take with one key (NIST SP 800-38D allows 2^32 random nonces per key).
 */
const MAGIC = Buffer.from('AGMDBKP', 'latin1');
const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const ENCRYPTED_HEADER_BYTES = MAGIC.length + 1 + NONCE_BYTES;

/** Why an encrypted backup could not be opened, in pt-BR. */
export class BackupCryptoError extends Error {
  override readonly name = 'BackupCryptoError';
}

/**
 * A stream that turns a ZIP into the encrypted format above: it writes the header first, the ciphertext as
 * the ZIP comes in (memory stays bounded by the stream buffers), and the tag at the end.
 */
export function createEncryptStream(key: Buffer): Transform {
  const nonce = randomBytes(NONCE_BYTES);
  const header = Buffer.concat([MAGIC, Buffer.from([VERSION]), nonce]);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(header);
  let started = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (!started) {
        started = true;
        this.push(header);
      }
      callback(null, cipher.update(chunk));
    },
    flush(callback: TransformCallback) {
      if (!started) this.push(header);
      const last = cipher.final();
      if (last.length > 0) this.push(last);
      callback(null, cipher.getAuthTag());
    },
  });
}

/** True when the file starts with the encrypted format's magic (whatever its name says). */
export async function isEncryptedBackup(file: string): Promise<boolean> {
  const handle = await fsp.open(file, 'r');
  try {
    const head = Buffer.alloc(MAGIC.length);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return bytesRead === MAGIC.length && head.equals(MAGIC);
  } finally {
    await handle.close();
  }
}

/**
 * Decrypts `source` into `target` (created new, mode 0600) and checks the tag. GCM only proves the data
 * authentic at the very end, so the caller must not read `target` unless this resolves: until then the
 * plaintext is unauthenticated. On any failure `target` is removed. Throws {@link BackupCryptoError}.
 */
export async function decryptBackup(source: string, target: string, key: Buffer): Promise<void> {
  const handle = await fsp.open(source, 'r');
  let header: Buffer;
  let tag: Buffer;
  let size: number;
  try {
    size = (await handle.stat()).size;
    if (size < ENCRYPTED_HEADER_BYTES + TAG_BYTES) throw new BackupCryptoError('o arquivo criptografado está truncado');
    header = Buffer.alloc(ENCRYPTED_HEADER_BYTES);
    tag = Buffer.alloc(TAG_BYTES);
    await handle.read(header, 0, header.length, 0);
    await handle.read(tag, 0, tag.length, size - TAG_BYTES);
  } finally {
    await handle.close();
  }
  if (!header.subarray(0, MAGIC.length).equals(MAGIC)) throw new BackupCryptoError('o arquivo não é um backup criptografado');
  const version = header[MAGIC.length];
  if (version !== VERSION) throw new BackupCryptoError(`versão de criptografia desconhecida (${String(version)})`);
  const nonce = header.subarray(MAGIC.length + 1);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(header);
  decipher.setAuthTag(tag);
  const end = size - TAG_BYTES - 1; // inclusive; an empty ZIP is impossible, but an empty range must not read the tag
  const input = end >= ENCRYPTED_HEADER_BYTES ? createReadStream(source, { start: ENCRYPTED_HEADER_BYTES, end }) : Readable.from([]);
  try {
    await pipeline(input, decipher, createWriteStream(target, { flags: 'wx', mode: 0o600 }));
  } catch (error) {
    await fsp.rm(target, { force: true });
    // `final()` fails with "unable to authenticate data" for a wrong key and for any changed byte alike.
    if (error instanceof Error && /authenticate/i.test(error.message)) {
      throw new BackupCryptoError('a chave não confere ou o arquivo foi alterado', { cause: error });
    }
    throw error;
  }
}
