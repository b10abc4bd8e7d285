import { describe, expect, it } from 'vitest';
import { copyOf } from './object-list.ts';

describe('copyOf', () => {
  it('copies plain objects and arrays deeply, keeps undefined values, and hands other objects to structuredClone', () => {
    const when = new Date('2026-12-07T00:00:00Z');
    const value = { a: [1, { b: 'x' }], c: { d: null, e: undefined, f: true }, when };
    const copy = copyOf(value);
    expect(copy).toStrictEqual(value);
    expect(copy.a).not.toBe(value.a);
    expect(copy.a[1]).not.toBe(value.a[1]);
    expect(copy.c).not.toBe(value.c);
    expect('e' in copy.c).toBe(true);
    expect(copy.when).toBeInstanceOf(Date);
    expect(copy.when).not.toBe(when);
  });
});
