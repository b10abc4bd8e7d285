// Random hex ids from a pooled buffer: one getrandom call fills 4 KiB, then ids are cut from it.
// `randomBytes(8)` per id was a system call per request (about 8 % of the CPU of POST /run/async);
// the bytes still come from the CSPRNG, like randomUUID's own cache. For ids, never for keys.
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

/** `bytes` random bytes as lowercase hex (2 × bytes characters); bytes ≤ 256. */
export function randomHex(bytes: number): string {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 256) throw new RangeError(`randomHex takes 1 to 256 bytes, got ${bytes}`);
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}
