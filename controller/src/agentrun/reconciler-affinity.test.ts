// Session affinity and the namespace cap with claims (docs/multi-node.md): a resumed session goes to
// the agent holding its HOME; a namespace's claimed runs stay below its cap across agents.
import { beforeEach, describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { API_VERSION, KIND, reasonOf } from '../../../contract/apis/v1alpha1/index.ts';
import { MemoryStore } from '../../../contract/store/memory-store.ts';
import type { ResourceRef } from '../../../contract/store/store.ts';
import { keyOf } from '../../../contract/store/store.ts';
import type { ReconcileContext, ReconcileResult } from '../reconcile/types.ts';
import { FakeAgentRunner } from '../runner/fake-runner.ts';
import { KnownContainers } from './known-containers.ts';
import { AgentRunReconciler, SESSION_RECHECK_MS } from './reconciler.ts';
import { StoreSessionHomes } from './session-homes.ts';
import { Slots } from './slots.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const ctx: ReconcileContext = { signal: new AbortController().signal, log: quiet, reconcileId: 'test' };
const clock = Date.parse('2026-12-01T10:00:00Z');
const S1 = '11111111-1111-4111-8111-111111111111';
const UNKNOWN = '22222222-2222-4222-8222-222222222222';
let store: MemoryStore<AgentRunStatus>;
/** Which node's Lease is live (absent: not known yet). */
let live: Map<string, boolean>;

interface Agent {
  runner: FakeAgentRunner;
  reconciler: AgentRunReconciler;
}

function agent(node: string, sessions: readonly string[], shared = false, caps: Record<string, number> = {}): Agent {
  const runner = new FakeAgentRunner({ now: () => clock, script: () => ({ running: true }) });
  const homes = new StoreSessionHomes({ store, sessions: { exists: (id) => Promise.resolve(sessions.includes(id)) }, isLive: (n) => live.get(n), shared });
  const reconciler = new AgentRunReconciler({
    store, runner, slots: new Slots({ limit: 2 }), node, containers: new KnownContainers(), now: () => clock, retryDelayMs: 0,
    claims: { mayClaim: () => true }, sessionHomes: homes, namespaceCaps: { capOf: (ns) => Promise.resolve(caps[ns]) },
  });
  return { runner, reconciler };
}

async function create(name: string, spec: Record<string, unknown>, status?: Partial<AgentRunStatus>): Promise<ResourceRef> {
  const run = await store.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace: 'default' }, spec });
  if (status !== undefined) await store.updateStatus({ namespace: 'default', name }, { phase: 'Succeeded', ...status } as AgentRunStatus, run.metadata.resourceVersion);
  return { namespace: 'default', name };
}

async function reconcile(a: Agent, ref: ResourceRef): Promise<ReconcileResult> {
  let result: ReconcileResult = {};
  for (let i = 0; i < 5; i += 1) {
    result = await a.reconciler.reconcile(keyOf(ref), ctx);
    if (result.requeueAfterMs !== 0) return result;
  }
  return result;
}

beforeEach(() => {
  store = new MemoryStore<AgentRunStatus>({ now: () => new Date(clock) });
  live = new Map([['a', true]]);
});

describe('AgentRunReconciler with session affinity', () => {
  it('leaves a resumed run to the live agent holding the session, which claims it', async () => {
    await create('first', { prompt: 'x', session: { id: S1 } }, { sessionId: S1, node: 'a', startTime: '2026-12-01T09:00:00Z' });
    const ref = await create('resume', { prompt: 'again', session: { id: S1, resume: true } });
    const a = agent('a', [S1]);
    const b = agent('b', []);
    const before = (await store.get(ref)).metadata.resourceVersion;
    expect(await reconcile(b, ref)).toEqual({ requeueAfterMs: SESSION_RECHECK_MS });
    expect((await store.get(ref)).metadata.resourceVersion).toBe(before); // b wrote nothing
    await reconcile(a, ref);
    expect((await store.get(ref)).status).toMatchObject({ phase: 'Running', node: 'a', sessionId: S1 });
    expect(b.runner.starts).toHaveLength(0);
    expect(a.runner.starts.map((s) => s.request.resume)).toEqual([true]);
  });

  it('sends a fork to the agent holding the session it copies', async () => {
    await create('first', { prompt: 'x', session: { id: S1 } }, { sessionId: S1, node: 'a' });
    const ref = await create('fork', { prompt: 'branch', session: { id: S1, resume: true, fork: true } });
    await reconcile(agent('b', []), ref);
    expect((await store.get(ref)).status?.node).toBeUndefined();
    await reconcile(agent('a', [S1]), ref);
    expect((await store.get(ref)).status?.node).toBe('a');
  });

  it('waits Pending SessionNodeUnavailable, naming the node, when the session is on an agent that is not alive', async () => {
    live.set('a', false);
    await create('first', { prompt: 'x', session: { id: S1 } }, { sessionId: S1, node: 'a' });
    const ref = await create('resume', { prompt: 'again', session: { id: S1, resume: true } });
    const b = agent('b', []);
    expect(await reconcile(b, ref)).toEqual({ requeueAfterMs: SESSION_RECHECK_MS });
    const waiting = await store.get(ref);
    expect(reasonOf(waiting.status)).toBe('SessionNodeUnavailable');
    expect(waiting.status).toMatchObject({ phase: 'Pending', message: `session ${S1} is on node a, which is not alive; waiting for it` });
    expect(waiting.status?.node).toBeUndefined();
    // Written once: a second look changes nothing.
    await reconcile(b, ref);
    expect((await store.get(ref)).metadata.resourceVersion).toBe(waiting.metadata.resourceVersion);
    expect(b.runner.starts).toHaveLength(0);
  });

  it('lets any agent take the run when the sessions directory is shared', async () => {
    live.set('a', false);
    await create('first', { prompt: 'x', session: { id: S1 } }, { sessionId: S1, node: 'a' });
    const ref = await create('resume', { prompt: 'again', session: { id: S1, resume: true } });
    await reconcile(agent('b', [], true), ref);
    expect((await store.get(ref)).status).toMatchObject({ phase: 'Running', node: 'b' });
  });

  it('claims as usual a run that resumes a session no run names a home for, and a run that starts a new one', async () => {
    const orphan = await create('orphan', { prompt: 'x', session: { id: UNKNOWN, resume: true } });
    const fresh = await create('fresh', { prompt: 'x', session: { id: S1 } });
    const b = agent('b', []);
    await reconcile(b, orphan);
    await reconcile(b, fresh);
    expect((await store.get(orphan)).status?.node).toBe('b');
    expect((await store.get(fresh)).status?.node).toBe('b');
  });
});

describe('AgentRunReconciler with a namespace cap', () => {
  it('claims while the namespace is below its cap across agents, then leaves runs waiting NamespaceCapReached', async () => {
    const a = agent('a', [], false, { default: 2 });
    const b = agent('b', [], false, { default: 2 });
    const one = await create('one', { prompt: 'x' });
    const two = await create('two', { prompt: 'x' });
    const three = await create('three', { prompt: 'x' });
    await reconcile(a, one);
    await reconcile(b, two);
    expect(await reconcile(b, three)).toEqual({ requeueAfterMs: SESSION_RECHECK_MS });
    const waiting = await store.get(three);
    expect(reasonOf(waiting.status)).toBe('NamespaceCapReached');
    expect(waiting.status?.node).toBeUndefined();
    await reconcile(a, three); // a has a free slot, but the namespace is at its cap: nothing written again
    expect((await store.get(three)).metadata.resourceVersion).toBe(waiting.metadata.resourceVersion);
    expect(a.runner.starts.length + b.runner.starts.length).toBe(2);
    // One ends: the waiting run is claimed at its next look.
    const done = await store.get(one);
    await store.updateStatus(one, { ...done.status, phase: 'Succeeded' } as AgentRunStatus, done.metadata.resourceVersion);
    await reconcile(a, three);
    expect((await store.get(three)).status).toMatchObject({ phase: 'Running', node: 'a' });
  });

  it('never lets one agent exceed the cap with its own concurrent reconciles (count and claim one at a time, own slots counted)', async () => {
    const a = agent('a', [], false, { default: 1 });
    const refs = [await create('one', { prompt: 'x' }), await create('two', { prompt: 'x' }), await create('three', { prompt: 'x' })];
    await Promise.all(refs.map((ref) => reconcile(a, ref)));
    expect(a.runner.starts).toHaveLength(1);
    const reasons = await Promise.all(refs.map(async (ref) => reasonOf((await store.get(ref)).status)));
    expect(reasons.filter((r) => r === 'NamespaceCapReached')).toHaveLength(2);
  });

  it('applies no cap to a namespace without one', async () => {
    const a = agent('a', [], false, { other: 1 });
    const refs = [await create('one', { prompt: 'x' }), await create('two', { prompt: 'x' })];
    for (const ref of refs) await reconcile(a, ref);
    expect(a.runner.starts).toHaveLength(2);
  });
});
