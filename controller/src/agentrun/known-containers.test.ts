import { describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { API_VERSION, KIND, reasonOf } from '../../../contract/apis/v1alpha1/index.ts';
import { MemoryStore } from '../../../contract/store/memory-store.ts';
import { keyOf } from '../../../contract/store/store.ts';
import type { ReconcileContext } from '../reconcile/types.ts';
import { FakeAgentRunner } from '../runner/fake-runner.ts';
import { KnownContainers } from './known-containers.ts';
import { AgentRunReconciler } from './reconciler.ts';
import { Slots } from './slots.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {}, child() { return silent; } };
const ctx: ReconcileContext = { signal: new AbortController().signal, log: silent, reconcileId: 'test' };

function setup() {
  const store = new MemoryStore<AgentRunStatus>();
  const runner = new FakeAgentRunner();
  const inspected: string[] = [];
  const inspect = runner.inspect.bind(runner);
  runner.inspect = async (name: string) => {
    inspected.push(name);
    return inspect(name);
  };
  const known = new KnownContainers();
  const reconciler = new AgentRunReconciler({ store, runner, slots: new Slots({ limit: 2 }), containers: known });
  const create = async (name: string, spec: Record<string, unknown>) => {
    const run = await store.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace: 'default' }, spec });
    return keyOf(run.metadata);
  };
  const reconcile = async (key: string) => {
    for (let i = 0; i < 5; i += 1) if ((await reconciler.reconcile(key, ctx)).requeueAfterMs !== 0) return;
  };
  return { store, runner, inspected, known, create, reconcile };
}

describe('AgentRunReconciler with KnownContainers', () => {
  it('decides suspended and finished runs without asking podman', async () => {
    const t = setup();
    const held = await t.create('held', { prompt: 'x', suspend: true });
    await t.reconcile(held);
    expect(reasonOf((await t.store.get({ namespace: 'default', name: 'held' })).status)).toBe('Suspended');
    expect(t.inspected).toEqual([]);
    const done = await t.create('done', { prompt: 'y' });
    await t.reconcile(done);
    await t.reconcile(done);
    expect((await t.store.get({ namespace: 'default', name: 'done' })).status?.phase).toBe('Succeeded');
    const before = t.inspected.length;
    await t.reconcile(done); // finished: nothing to look at
    expect(t.inspected).toHaveLength(before);
    expect(t.known.size).toBe(0);
  });

  it('looks at a container it knows of, so a leftover of a finished run found at start is removed', async () => {
    const t = setup();
    const key = await t.create('left', { prompt: 'z' });
    await t.reconcile(key);
    const running = await t.store.get({ namespace: 'default', name: 'left' });
    const name = running.status?.containerName ?? '';
    expect(t.known.has(name)).toBe(true);
    // The run is recorded finished while its container stays (a crash before the removal).
    await t.store.updateStatus({ namespace: 'default', name: 'left' }, { ...running.status, phase: 'Succeeded', completionTime: new Date().toISOString() }, running.metadata.resourceVersion);
    await t.reconcile(key);
    expect(await t.runner.inspect(name)).toBeUndefined();
    expect(t.known.has(name)).toBe(false);
  });
});

describe('AgentRunReconciler and generations of waiting runs', () => {
  it('records a newer generation of a suspended run (kstatus reads observedGeneration)', async () => {
    const t = setup();
    const key = await t.create('held', { prompt: 'x', suspend: true });
    await t.reconcile(key);
    const first = await t.store.get({ namespace: 'default', name: 'held' });
    expect(first.status?.observedGeneration).toBe(1);
    await t.store.patchSpec({ namespace: 'default', name: 'held' }, { priority: 5 });
    await t.reconcile(key);
    const second = await t.store.get({ namespace: 'default', name: 'held' });
    expect(second.metadata.generation).toBe(2);
    expect(second.status?.observedGeneration).toBe(2);
    expect(reasonOf(second.status)).toBe('Suspended');
  });
});
