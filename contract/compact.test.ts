import { describe, expect, it } from 'vitest';
import { compact } from './compact.ts';

describe('compact', () => {
  it('drops undefined properties and keeps every other value', () => {
    const maybe: string | undefined = undefined;
    expect(compact({ a: 1, b: undefined, c: null, d: '', e: 0, f: false, g: maybe })).toEqual({ a: 1, c: null, d: '', e: 0, f: false });
    expect(Object.keys(compact({ b: undefined }))).toEqual([]);
  });

  it('types the result for exact optional properties', () => {
    const signal: AbortSignal | undefined = new AbortController().signal;
    const options: { signal?: AbortSignal; timeoutMs: number } = { ...compact({ signal }), timeoutMs: 1 };
    expect(options.signal).toBe(signal);
  });
});
