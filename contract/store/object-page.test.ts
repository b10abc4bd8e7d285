import { describe, expect, it } from 'vitest';
import { MemoryStore } from './memory-store.ts';
import { SortedKeys, decodeContinue, encodeContinue, pageOf } from './object-page.ts';
import type { Resource } from './store.ts';

function run(namespace: string, name: string): Resource<unknown> {
  return {
    apiVersion: 'stromboli.dev/v1alpha1',
    kind: 'AgentRun',
    metadata: { namespace, name, uid: `${namespace}-${name}`, generation: 1, resourceVersion: '1', creationTimestamp: '2026-12-08T00:00:00Z' },
    spec: {},
  };
}

describe('paging of the in-process stores', () => {
  it('round-trips a continue token and refuses anything else with VALIDATION', () => {
    const token = encodeContinue({ namespace: 'ns', name: 'a.b' });
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeContinue(token)).toEqual({ namespace: 'ns', name: 'a.b' });
    for (const bad of ['', 'x', '!!', Buffer.from('{"v":2,"ns":"a","name":"b"}').toString('base64url'), Buffer.from('[1]').toString('base64url')]) {
      expect(() => decodeContinue(bad)).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    }
  });

  it('orders by namespace then name, not by the "namespace/name" key ("a" before "a-b")', () => {
    const objects = new Map<string, Resource<unknown>>();
    for (const [ns, name] of [['a-b', 'x'], ['a', 'y'], ['a', 'b'], ['b', 'a']] as const) objects.set(`${ns}/${name}`, run(ns, name));
    const sorted = new SortedKeys(objects, (o) => o.metadata);
    const names = (page: { items: Resource<unknown>[] }): string[] => page.items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
    const first = pageOf(objects, sorted, (o) => o, { limit: 2 });
    expect(names(first)).toEqual(['a/b', 'a/y']);
    expect(first.remainingItemCount).toBe(2);
    const second = pageOf(objects, sorted, (o) => o, { limit: 2, ...(first.continue === undefined ? {} : { continue: first.continue }) });
    expect(names(second)).toEqual(['a-b/x', 'b/a']);
    expect(second.continue).toBeUndefined();
    expect(names(pageOf(objects, sorted, (o) => o, { namespace: 'a', limit: 1 }))).toEqual(['a/b']);
    expect(pageOf(objects, sorted, (o) => o, { namespace: 'a', limit: 1 }).remainingItemCount).toBe(1);
  });

  it('sorts again after the set of keys changed, also when the size stayed the same', () => {
    const objects = new Map<string, Resource<unknown>>([['ns/b', run('ns', 'b')], ['ns/c', run('ns', 'c')]]);
    const sorted = new SortedKeys(objects, (o) => o.metadata);
    expect(sorted.current().keys).toEqual(['ns/b', 'ns/c']);
    objects.delete('ns/c');
    objects.set('ns/a', run('ns', 'a'));
    expect(sorted.current().keys).toEqual(['ns/a', 'ns/b']);
  });

  it('continues after a deleted last object, and sets continue with a selector only when a match follows', async () => {
    const store = new MemoryStore<unknown>();
    for (const name of ['a', 'b', 'c']) {
      await store.create({ apiVersion: 'v1', kind: 'AgentRun', metadata: { name, labels: { keep: name === 'c' ? 'no' : 'yes' } }, spec: {} });
    }
    const first = await store.listPage({ labels: { keep: 'yes' }, limit: 2 });
    expect(first.items.map((o) => o.metadata.name)).toEqual(['a', 'b']);
    expect(first.continue).toBeUndefined();
    expect(first.remainingItemCount).toBeUndefined();
    const page = await store.listPage({ limit: 1 });
    await store.delete({ namespace: 'default', name: 'a' });
    const next = await store.listPage({ limit: 5, ...(page.continue === undefined ? {} : { continue: page.continue }) });
    expect(next.items.map((o) => o.metadata.name)).toEqual(['b', 'c']);
  });
});
