import { randomBytes, createHash } from 'node:crypto';

// Readable, prefixed, URL-safe ids: "loc_3kq9…". 80 random bits, no coordination needed
// between server nodes.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
export function newId(prefix: string): string {
  let out = '';
  for (const b of randomBytes(16)) out += ALPHABET[b & 31]; // 16 × 5 bits = 80 random bits
  return `${prefix}_${out}`;
}

/** A bearer secret: 32 random bytes. Only its SHA-256 is stored; high entropy makes a slow hash unnecessary. */
export function newSecret(prefix: 'lbt' | 'lbd' | 'lbw' | 'lbs' | 'lbi'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}
