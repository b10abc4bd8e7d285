import { describe, expect, it } from 'vitest';
import { isAppError } from '../errors.ts';
import { listCopies } from './object-list.ts';
import {
  assertNoNewFinalizersWhileDeleting,
  generateUniqueName,
  newResource,
  refProblem,
  requireCurrent,
  setFinalizerList,
  toRfc3339,
} from './object-rules.ts';
import type { Resource } from './store.ts';

function object(namespace: string, name: string, extra: Partial<Resource<unknown>['metadata']> = {}): Resource<unknown> {
  const created = newResource<unknown>({ apiVersion: 'v1', kind: 'Thing', namespace, name, labels: undefined, annotations: undefined, spec: {}, resourceVersion: '1', creationTimestamp: 't' });
  Object.assign(created.metadata, extra);
  return created;
}

describe('object rules', () => {
  it('accepts RFC 1123 names within the given limit and says why others fail', () => {
    expect(refProblem({ namespace: 'default', name: 'a.b-c' })).toBeUndefined();
    expect(refProblem({ namespace: 'default', name: 'Upper' })).toContain('metadata.name "Upper"');
    expect(refProblem({ namespace: 'default', name: 'a'.repeat(253) })).toBeUndefined();
    expect(refProblem({ namespace: 'default', name: 'a'.repeat(251) }, 250)).toContain('at most 250 characters');
    expect(refProblem({ namespace: 'a.b', name: 'x' })).toContain('metadata.namespace "a.b"');
  });

  it('generates names like Kubernetes, skipping taken ones, and needs a name or a prefix', () => {
    const taken = new Set<string>();
    for (let i = 0; i < 20; i++) taken.add(generateUniqueName('run-', (n) => taken.has(n)));
    expect(taken.size).toBe(20);
    for (const name of taken) expect(name).toMatch(/^run-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(generateUniqueName('p'.repeat(70), () => false)).toHaveLength(63);
    expect(() => generateUniqueName('', () => false)).toThrow(/generateName is required/);
  });

  it('throws NOT_FOUND for a missing object and CONFLICT for a stale resourceVersion', () => {
    const ref = { namespace: 'ns', name: 'x' };
    const version = (o: Resource<unknown>): string => o.metadata.resourceVersion;
    const codeOf = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (err) {
        return isAppError(err) ? err.code : 'other';
      }
      return undefined;
    };
    expect(codeOf(() => requireCurrent(ref, undefined, undefined, version))).toBe('NOT_FOUND');
    expect(codeOf(() => requireCurrent(ref, object('ns', 'x'), '2', version))).toBe('CONFLICT');
    expect(requireCurrent(ref, object('ns', 'x'), '1', version).metadata.name).toBe('x');
    expect(requireCurrent(ref, object('ns', 'x'), undefined, version).metadata.name).toBe('x');
  });

  it('lets an object being deleted lose finalizers but not gain any', () => {
    const deleting = object('ns', 'x', { deletionTimestamp: 't', finalizers: ['a'] });
    expect(() => assertNoNewFinalizersWhileDeleting(deleting, [])).not.toThrow();
    expect(() => assertNoNewFinalizersWhileDeleting(deleting, ['a', 'b'])).toThrow(/ns\/x is being deleted: b/);
    expect(() => assertNoNewFinalizersWhileDeleting(object('ns', 'y'), ['b'])).not.toThrow();
    setFinalizerList(deleting, []);
    expect(deleting.metadata).not.toHaveProperty('finalizers');
  });

  it('writes timestamps with seconds precision', () => {
    expect(toRfc3339(new Date('2024-05-06T07:08:09.123Z'))).toBe('2024-05-06T07:08:09Z');
  });

  it('lists by namespace then name, filters by namespace and labels, and returns copies', () => {
    const objects = [object('b', 'a'), object('a', 'z'), object('a', 'b')];
    objects[0]!.metadata.labels = { team: 'x' };
    expect(listCopies(objects, {}).map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual(['a/b', 'a/z', 'b/a']);
    expect(listCopies(objects, { namespace: 'a' })).toHaveLength(2);
    expect(listCopies(objects, { labels: { team: 'x' } }).map((o) => o.metadata.name)).toEqual(['a']);
    listCopies(objects, {})[0]!.metadata.name = 'changed';
    expect(objects.map((o) => o.metadata.name)).not.toContain('changed');
  });
});
