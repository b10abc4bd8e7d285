import { describe, expect, it } from 'vitest';
import { randomHex } from './random-hex.ts';

describe('randomHex', () => {
  it('gives lowercase hex of twice the bytes asked, never the same id twice across pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i += 1) {
      const id = randomHex(8);
      expect(id).toMatch(/^[0-9a-f]{16}$/);
      seen.add(id);
    }
    expect(seen.size).toBe(2000); // 2000 × 8 bytes: the 4 KiB pool was refilled several times
    expect(randomHex(3)).toMatch(/^[0-9a-f]{6}$/);
  });

  it('refuses sizes outside 1 to 256 bytes', () => {
    expect(() => randomHex(0)).toThrow(RangeError);
    expect(() => randomHex(257)).toThrow(RangeError);
  });
});
