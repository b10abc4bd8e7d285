import { describe, expect, it } from 'vitest';
import type { Resource } from '../../../../contract/store/store.ts';
import { applyWatchEvent, diffRelist } from './relist-diff.ts';
import type { ObjectCache } from './relist-diff.ts';

function run(namespace: string, name: string, resourceVersion: string, uid = `uid-${namespace}-${name}`): Resource<never> {
  return {
    apiVersion: 'stromboli.dev/v1alpha1',
    kind: 'AgentRun',
    metadata: { namespace, name, uid, generation: 1, resourceVersion, creationTimestamp: '2026-12-07T00:00:00Z' },
    spec: {},
  };
}

function summary(events: { type: string; object: Resource<never> }[]): string[] {
  return events.map((e) => `${e.type} ${e.object.metadata.namespace}/${e.object.metadata.name}@${e.object.metadata.resourceVersion}`);
}

describe('diffRelist', () => {
  it('starts with ADDED for every object, sorted namespace/name', () => {
    const cache: ObjectCache<never> = new Map();
    const events = diffRelist(cache, [run('b', 'x', '3'), run('a', 'z', '1'), run('a', 'y', '2')]);
    expect(summary(events)).toEqual(['ADDED a/y@2', 'ADDED a/z@1', 'ADDED b/x@3']);
    expect([...cache.keys()].sort()).toEqual(['a/y', 'a/z', 'b/x']);
  });

  it('emits only what changed while disconnected: MODIFIED, DELETED with the last object seen, ADDED', () => {
    const cache: ObjectCache<never> = new Map();
    diffRelist(cache, [run('ns', 'same', '1'), run('ns', 'changed', '2'), run('ns', 'gone', '3')]);
    const events = diffRelist(cache, [run('ns', 'same', '1'), run('ns', 'changed', '7'), run('ns', 'new', '8')]);
    expect(summary(events)).toEqual(['MODIFIED ns/changed@7', 'DELETED ns/gone@3', 'ADDED ns/new@8']);
    expect([...cache.keys()].sort()).toEqual(['ns/changed', 'ns/new', 'ns/same']);
    expect(cache.get('ns/changed')?.metadata.resourceVersion).toBe('7');
  });

  it('turns a re-creation under the same name (new uid) into DELETED then ADDED', () => {
    const cache: ObjectCache<never> = new Map();
    diffRelist(cache, [run('ns', 'a', '1', 'old')]);
    const events = diffRelist(cache, [run('ns', 'a', '5', 'new')]);
    expect(events.map((e) => `${e.type} ${e.object.metadata.uid}`)).toEqual(['DELETED old', 'ADDED new']);
  });

  it('emits nothing for an unchanged relist, and DELETED for everything when the list is empty', () => {
    const cache: ObjectCache<never> = new Map();
    diffRelist(cache, [run('ns', 'a', '1'), run('ns', 'b', '2')]);
    expect(diffRelist(cache, [run('ns', 'b', '2'), run('ns', 'a', '1')])).toEqual([]);
    expect(summary(diffRelist(cache, []))).toEqual(['DELETED ns/a@1', 'DELETED ns/b@2']);
    expect(cache.size).toBe(0);
  });
});

describe('applyWatchEvent', () => {
  it('passes new events through and keeps the cache in step', () => {
    const cache: ObjectCache<never> = new Map();
    expect(summary(applyWatchEvent(cache, 'ADDED', run('ns', 'a', '1')))).toEqual(['ADDED ns/a@1']);
    expect(summary(applyWatchEvent(cache, 'MODIFIED', run('ns', 'a', '2')))).toEqual(['MODIFIED ns/a@2']);
    expect(summary(applyWatchEvent(cache, 'DELETED', run('ns', 'a', '3')))).toEqual(['DELETED ns/a@3']);
    expect(cache.size).toBe(0);
  });

  it('drops replays of what the consumer has seen, and DELETED of an object it never saw', () => {
    const cache: ObjectCache<never> = new Map();
    applyWatchEvent(cache, 'ADDED', run('ns', 'a', '1'));
    expect(applyWatchEvent(cache, 'ADDED', run('ns', 'a', '1'))).toEqual([]);
    expect(applyWatchEvent(cache, 'MODIFIED', run('ns', 'a', '1'))).toEqual([]);
    expect(applyWatchEvent(cache, 'DELETED', run('ns', 'never', '9'))).toEqual([]);
  });

  it('makes an ADDED of a known object a MODIFIED, and a new uid DELETED then ADDED', () => {
    const cache: ObjectCache<never> = new Map();
    applyWatchEvent(cache, 'ADDED', run('ns', 'a', '1', 'old'));
    expect(summary(applyWatchEvent(cache, 'ADDED', run('ns', 'a', '2', 'old')))).toEqual(['MODIFIED ns/a@2']);
    expect(applyWatchEvent(cache, 'MODIFIED', run('ns', 'a', '3', 'new')).map((e) => `${e.type} ${e.object.metadata.uid}`)).toEqual(['DELETED old', 'ADDED new']);
  });
});
