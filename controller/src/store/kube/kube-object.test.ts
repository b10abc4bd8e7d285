import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../contract/errors.ts';
import { parseResource, toCreateBody, toLabelSelector } from './kube-object.ts';

const trust = (value: unknown): unknown => value;

/** An AgentRun as the API server answers it, managedFields and all. */
function served(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'stromboli.dev/v1alpha1',
    kind: 'AgentRun',
    metadata: {
      name: 'a', namespace: 'ns', uid: 'u-1', generation: 2, resourceVersion: '42', creationTimestamp: '2026-12-07T23:00:00Z',
      labels: { team: 'x' },
      managedFields: [{ manager: 'kubectl', operation: 'Update' }],
      ...extra,
    },
    spec: { prompt: 'hi' },
    status: { phase: 'Running' },
  };
}

describe('parseResource', () => {
  it('keeps the store metadata fields only, and spec and status', () => {
    expect(parseResource(served(), trust)).toEqual({
      apiVersion: 'stromboli.dev/v1alpha1',
      kind: 'AgentRun',
      metadata: { name: 'a', namespace: 'ns', uid: 'u-1', generation: 2, resourceVersion: '42', creationTimestamp: '2026-12-07T23:00:00Z', labels: { team: 'x' } },
      spec: { prompt: 'hi' },
      status: { phase: 'Running' },
    });
  });

  it('keeps deletionTimestamp and finalizers, drops an empty finalizer list, and omits an absent status', () => {
    const raw = served({ deletionTimestamp: '2026-12-07T23:01:00Z', finalizers: ['stromboli.dev/x'] });
    delete raw['status'];
    const parsed = parseResource(raw, trust);
    expect(parsed.metadata).toMatchObject({ deletionTimestamp: '2026-12-07T23:01:00Z', finalizers: ['stromboli.dev/x'] });
    expect('status' in parsed).toBe(false);
    expect('finalizers' in parseResource(served({ finalizers: [] }), trust).metadata).toBe(false);
  });

  it('accepts a Date where client-node types one, as RFC 3339 seconds', () => {
    const parsed = parseResource(served({ creationTimestamp: new Date('2026-12-07T23:00:00.123Z') }), trust);
    expect(parsed.metadata.creationTimestamp).toBe('2026-12-07T23:00:00Z');
  });

  it('runs parseStatus on the status, and copies rather than shares', () => {
    const raw = served();
    const parsed = parseResource(raw, (value) => ({ checked: value }));
    expect(parsed.status).toEqual({ checked: { phase: 'Running' } });
    (parsed.spec as { prompt: string }).prompt = 'changed';
    expect((raw['spec'] as { prompt: string }).prompt).toBe('hi');
  });

  it('throws ValidationError for an object without uid or resourceVersion', () => {
    expect(() => parseResource({ apiVersion: 'v', kind: 'K', metadata: { name: 'a', namespace: 'ns' } }, trust)).toThrow(ValidationError);
    expect(() => parseResource('nope', trust)).toThrow(ValidationError);
  });
});

describe('toCreateBody', () => {
  it('sends name or generateName, labels, annotations and spec, in the given namespace', () => {
    const body = toCreateBody({ apiVersion: 'g/v', kind: 'K', metadata: { generateName: 'run-', labels: { a: 'b' } }, spec: { prompt: 'p' } }, 'ns');
    expect(body).toEqual({ apiVersion: 'g/v', kind: 'K', metadata: { namespace: 'ns', generateName: 'run-', labels: { a: 'b' } }, spec: { prompt: 'p' } });
    const named = toCreateBody({ apiVersion: 'g/v', kind: 'K', metadata: { name: 'x', generateName: 'ignored-' }, spec: {} }, 'ns');
    expect(named['metadata']).toEqual({ namespace: 'ns', name: 'x' });
  });
});

describe('toLabelSelector', () => {
  it('joins equality requirements, and is undefined for none', () => {
    expect(toLabelSelector({ team: 'x', 'stromboli.dev/tier': 'gold' })).toBe('team=x,stromboli.dev/tier=gold');
    expect(toLabelSelector({})).toBeUndefined();
    expect(toLabelSelector(undefined)).toBeUndefined();
  });
});
