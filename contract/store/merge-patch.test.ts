import { describe, expect, it } from 'vitest';
import { canonicalHash, canonicalJson } from './canonical-json.ts';
import { applyMergePatch } from './merge-patch.ts';

describe('applyMergePatch', () => {
  it('merges objects, deletes on null and replaces anything else (RFC 7386)', () => {
    const target = { a: 1, b: { c: 2, d: 3 }, list: [1, 2] };
    expect(applyMergePatch(target, { a: null, b: { c: null, e: 4 }, list: [3] })).toEqual({ b: { d: 3, e: 4 }, list: [3] });
    expect(applyMergePatch(target, 'x')).toBe('x');
    expect(applyMergePatch('x', { a: 1 })).toEqual({ a: 1 });
  });

  it('changes neither argument and shares nothing with the result', () => {
    const target = { nested: { a: 1 } };
    const patch = { added: { b: 2 } };
    const result = applyMergePatch(target, patch) as { nested: { a: number }; added: { b: number } };
    result.nested.a = 9;
    result.added.b = 9;
    expect(target).toEqual({ nested: { a: 1 } });
    expect(patch).toEqual({ added: { b: 2 } });
  });

  it('keeps a "__proto__" key as data', () => {
    const patch: unknown = JSON.parse('{"__proto__": {"polluted": true}}');
    const result = applyMergePatch({}, patch) as Record<string, unknown>;
    expect(Object.keys(result)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('canonicalJson and canonicalHash', () => {
  it('ignore key order but not array order', () => {
    expect(canonicalJson({ b: 1, a: { d: 2, c: 3 } })).toBe('{"a":{"c":3,"d":2},"b":1}');
    expect(canonicalHash({ b: 1, a: 2 })).toBe(canonicalHash({ a: 2, b: 1 }));
    expect(canonicalHash([1, 2])).not.toBe(canonicalHash([2, 1]));
    expect(canonicalHash({})).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});
