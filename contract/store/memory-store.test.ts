import { describe, expect, it } from 'vitest';
import { isAppError } from '../errors.ts';
import { MemoryStore } from './memory-store.ts';
import type { ConformanceStatus } from './conformance.ts';
import { CONFORMANCE_API_VERSION, CONFORMANCE_KIND, describeStoreConformance } from './conformance.ts';

describeStoreConformance('MemoryStore', () => ({ store: new MemoryStore<ConformanceStatus>() }));

describe('MemoryStore', () => {
  const base = { apiVersion: CONFORMANCE_API_VERSION, kind: CONFORMANCE_KIND, spec: { prompt: 'hi' } };

  it('puts an object created without a namespace in the default namespace', async () => {
    const store = new MemoryStore<ConformanceStatus>({ defaultNamespace: 'team-a' });
    const created = await store.create({ ...base, metadata: { name: 'a' } });
    expect(created.metadata.namespace).toBe('team-a');
    await expect(new MemoryStore().create({ ...base, metadata: { name: 'b' } })).resolves.toMatchObject({ metadata: { namespace: 'default' } });
  });

  it('takes creation and deletion times from the injected clock, at seconds precision', async () => {
    let now = new Date('2030-01-02T03:04:05.678Z');
    const store = new MemoryStore<ConformanceStatus>({ now: () => now });
    const created = await store.create({ ...base, metadata: { name: 'a' } });
    expect(created.metadata.creationTimestamp).toBe('2030-01-02T03:04:05Z');
    await store.setFinalizers({ namespace: 'default', name: 'a' }, ['x.dev/f'], created.metadata.resourceVersion);
    now = new Date('2030-01-02T03:05:00.000Z');
    await store.delete({ namespace: 'default', name: 'a' });
    expect((await store.get({ namespace: 'default', name: 'a' })).metadata.deletionTimestamp).toBe('2030-01-02T03:05:00Z');
  });

  it('refuses an object with neither name nor generateName', async () => {
    const err: unknown = await new MemoryStore().create({ ...base, metadata: {} }).catch((e: unknown) => e);
    expect(isAppError(err) ? err.code : err).toBe('VALIDATION');
  });

  it('keeps the status given to updateStatus from later changes by the caller', async () => {
    const store = new MemoryStore<ConformanceStatus>();
    const created = await store.create({ ...base, metadata: { name: 'a' } });
    const status: ConformanceStatus = { phase: 'Running' };
    await store.updateStatus({ namespace: 'default', name: 'a' }, status, created.metadata.resourceVersion);
    status.phase = 'Failed';
    expect((await store.get({ namespace: 'default', name: 'a' })).status).toEqual({ phase: 'Running' });
  });

  it('uses one resourceVersion counter across all objects', async () => {
    const store = new MemoryStore<ConformanceStatus>();
    const a = await store.create({ ...base, metadata: { name: 'a' } });
    const b = await store.create({ ...base, metadata: { name: 'b' } });
    expect(Number(b.metadata.resourceVersion)).toBeGreaterThan(Number(a.metadata.resourceVersion));
  });

  it('delivers no events to a watch whose signal was already aborted', async () => {
    const store = new MemoryStore<ConformanceStatus>();
    await store.create({ ...base, metadata: { name: 'a' } });
    const events = [];
    for await (const event of store.watch(AbortSignal.abort())) events.push(event);
    expect(events).toEqual([]);
  });

  it('ends a watch when the consumer breaks out of its loop, and later watches still see every object', async () => {
    const store = new MemoryStore<ConformanceStatus>();
    const controller = new AbortController();
    await store.create({ ...base, metadata: { name: 'a' } });
    for await (const event of store.watch(controller.signal)) {
      expect(event.type).toBe('ADDED');
      break;
    }
    await store.create({ ...base, metadata: { name: 'b' } });
    const seen: string[] = [];
    for await (const event of store.watch(controller.signal)) {
      seen.push(event.object.metadata.name);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual(['a', 'b']);
  });
});
