// Several agents over one store (docs/multi-node.md): claims, the loser of a race, fencing.
import { beforeEach, describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { API_VERSION, KIND, reasonOf } from '../../../contract/apis/v1alpha1/index.ts';
import { MemoryStore } from '../../../contract/store/memory-store.ts';
import type { ResourceRef, ResourceStore } from '../../../contract/store/store.ts';
import { keyOf } from '../../../contract/store/store.ts';
import type { ReconcileContext, ReconcileResult } from '../reconcile/types.ts';
import { FakeAgentRunner } from '../runner/fake-runner.ts';
import { containerName } from '../runner/names.ts';
import { KnownContainers } from './known-containers.ts';
import { AgentRunReconciler } from './reconciler.ts';
import { Slots } from './slots.ts';

const lines: Array<{ level: string; msg: string }> = [];
const recording = {
  debug: (_f: unknown, msg: string) => void lines.push({ level: 'debug', msg }),
  info: (_f: unknown, msg: string) => void lines.push({ level: 'info', msg }),
  warn: (_f: unknown, msg: string) => void lines.push({ level: 'warn', msg }),
  error: (_f: unknown, msg: string) => void lines.push({ level: 'error', msg }),
  child() {
    return recording;
  },
};
const ctx: ReconcileContext = { signal: new AbortController().signal, log: recording, reconcileId: 'test' };

interface Agent {
  node: string;
  runner: FakeAgentRunner;
  slots: Slots;
  known: KnownContainers;
  gate: { open: boolean; draining: boolean };
  reconciler: AgentRunReconciler;
}

let store: MemoryStore<AgentRunStatus>;
const clock = Date.parse('2026-12-01T10:00:00Z');

function agent(node: string, over: ResourceStore<AgentRunStatus> = store, limit = 2): Agent {
  const runner = new FakeAgentRunner({ now: () => clock, script: () => ({ running: true }) });
  const slots = new Slots({ limit });
  const known = new KnownContainers();
  const gate = { open: true, draining: false };
  const reconciler = new AgentRunReconciler({
    store: over, runner, slots, node, containers: known, now: () => clock, retryDelayMs: 0,
    claims: { mayClaim: () => gate.open && !gate.draining, releasing: () => gate.draining },
  });
  return { node, runner, slots, known, gate, reconciler };
}

async function create(name: string, spec: Record<string, unknown> = { prompt: 'x' }): Promise<ResourceRef> {
  const run = await store.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace: 'default' }, spec });
  return { namespace: run.metadata.namespace, name: run.metadata.name };
}

async function reconcile(a: Agent, ref: ResourceRef, max = 5): Promise<ReconcileResult> {
  let result: ReconcileResult = {};
  for (let i = 0; i < max; i += 1) {
    result = await a.reconciler.reconcile(keyOf(ref), ctx);
    if (result.requeueAfterMs !== 0) return result;
  }
  return result;
}

beforeEach(() => {
  lines.length = 0;
  store = new MemoryStore<AgentRunStatus>({ now: () => new Date(clock) });
});

describe('AgentRunReconciler with claims', () => {
  it('claims an unclaimed run (status.node) before it starts it, and another agent then leaves it alone', async () => {
    const a = agent('a');
    const b = agent('b');
    const ref = await create('one');
    await reconcile(a, ref);
    const run = await store.get(ref);
    expect(run.status).toMatchObject({ phase: 'Running', node: 'a' });
    const before = run.metadata.resourceVersion;
    await reconcile(b, ref);
    expect(b.runner.starts).toHaveLength(0);
    expect((await store.get(ref)).metadata.resourceVersion).toBe(before); // b wrote nothing
    expect(a.runner.starts).toHaveLength(1);
  });

  it('makes the loser of a claim race read again and move on, with no start and no warning', async () => {
    const a = agent('a');
    // b reads the run, then a claims it before b writes: b's claim carries a stale resourceVersion.
    let raced = false;
    const racing: ResourceStore<AgentRunStatus> = {
      list: (o) => store.list(o),
      listPage: (o) => store.listPage(o),
      get: (r) => store.get(r),
      watch: (sig) => store.watch(sig),
      create: (o) => store.create(o),
      patchSpec: (r, p, rv) => store.patchSpec(r, p, rv),
      setFinalizers: (r, f, rv) => store.setFinalizers(r, f, rv),
      delete: (r) => store.delete(r),
      updateStatus: async (r, status, rv) => {
        if (!raced) {
          raced = true;
          await reconcile(a, r);
        }
        return store.updateStatus(r, status, rv);
      },
    };
    const b = agent('b', racing);
    const ref = await create('race');
    expect(await b.reconciler.reconcile(keyOf(ref), ctx)).toEqual({ requeueAfterMs: 0 });
    expect(b.slots.running).toBe(0);
    await reconcile(b, ref); // reads again: a's
    expect(b.runner.starts).toHaveLength(0);
    expect(a.runner.starts).toHaveLength(1);
    expect((await store.get(ref)).status?.node).toBe('a');
    expect(lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
  });

  it('claims only with a free slot; a full agent leaves the run for one that has one', async () => {
    const a = agent('a', store, 1);
    const b = agent('b', store, 1);
    const first = await create('first');
    const second = await create('second');
    await reconcile(a, first);
    await reconcile(a, second); // a is full: Queued, still unclaimed
    const queued = (await store.get(second)).status;
    expect(reasonOf(queued)).toBe('Queued');
    expect(queued?.node).toBeUndefined();
    await reconcile(b, second);
    expect((await store.get(second)).status).toMatchObject({ phase: 'Running', node: 'b' });
    expect(a.runner.starts.map((s) => s.request.run.name)).toEqual(['first']);
  });

  it('neither claims nor starts while the gate (its node Lease) is closed', async () => {
    const a = agent('a');
    a.gate.open = false;
    const ref = await create('gated');
    expect(await a.reconciler.reconcile(keyOf(ref), ctx)).toMatchObject({ requeueAfterMs: expect.any(Number) });
    expect((await store.get(ref)).status).toBeUndefined();
    a.gate.open = true;
    await reconcile(a, ref);
    expect((await store.get(ref)).status?.node).toBe('a');
  });

  it('removes its container of a run reassigned to another node, and writes nothing for it (fencing)', async () => {
    const a = agent('a');
    const ref = await create('moved');
    await reconcile(a, ref);
    const run = await store.get(ref);
    const name = containerName({ namespace: 'default', name: 'moved', uid: run.metadata.uid }, 1);
    expect(a.runner.containers.has(name)).toBe(true);
    // The janitor handed it to another node while a was away.
    const moved = await store.updateStatus(ref, { ...run.status!, node: 'b', attempt: 2, phase: 'Running' }, run.metadata.resourceVersion);
    await reconcile(a, ref);
    expect(a.runner.containers.has(name)).toBe(false);
    expect(a.slots.running).toBe(0);
    expect((await store.get(ref)).metadata.resourceVersion).toBe(moved.metadata.resourceVersion);
  });

  it('writes Suspended for an unclaimed run without claiming it', async () => {
    const a = agent('a');
    const ref = await create('later', { prompt: 'x', suspend: true });
    await reconcile(a, ref);
    const s = (await store.get(ref)).status;
    expect(reasonOf(s)).toBe('Suspended');
    expect(s?.node).toBeUndefined();
  });

  it('hands a run of its own that waits for a retry back, unclaimed, while it drains', async () => {
    const a = agent('a');
    a.runner.script = () => ({ exitCode: 1 });
    const ref = await create('flaky', { prompt: 'x', backoffLimit: 1 });
    await reconcile(a, ref, 2); // claim, start; the attempt fails: Retrying, still a's
    await a.reconciler.reconcile(keyOf(ref), ctx);
    expect((await store.get(ref)).status).toMatchObject({ phase: 'Pending', node: 'a', attempt: 2 });
    a.gate.draining = true;
    await a.reconciler.reconcile(keyOf(ref), ctx);
    const released = (await store.get(ref)).status;
    expect(released?.node).toBeUndefined();
    expect(released).toMatchObject({ phase: 'Pending', attempt: 2 });
    expect(reasonOf(released)).toBe('Retrying');
    const b = agent('b');
    await reconcile(b, ref);
    expect((await store.get(ref)).status).toMatchObject({ phase: 'Running', node: 'b', attempt: 2 });
  });
});
