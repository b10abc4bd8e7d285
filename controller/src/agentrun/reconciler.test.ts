import { beforeEach, describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { API_VERSION, KIND, getCondition, reasonOf } from '../../../contract/apis/v1alpha1/index.ts';
import { TerminalError } from '../../../contract/errors.ts';
import type { ReconcileContext, ReconcileResult } from '../reconcile/types.ts';
import { FakeAgentRunner, successTranscript } from '../runner/fake-runner.ts';
import { MemoryStore } from '../../../contract/store/memory-store.ts';
import type { ResourceRef, ResourceStore } from '../../../contract/store/store.ts';
import { keyOf } from '../../../contract/store/store.ts';
import { CLEANUP_FINALIZER } from './phases.ts';
import { AgentRunReconciler } from './reconciler.ts';
import { Slots } from './slots.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {}, child() { return silent; } };
const ctx: ReconcileContext = { signal: new AbortController().signal, log: silent, reconcileId: 'test' };

let store: MemoryStore<AgentRunStatus>;
let runner: FakeAgentRunner;
let slots: Slots;
let reconciler: AgentRunReconciler;
let clock: number;

beforeEach(() => {
  clock = Date.parse('2026-11-29T12:00:00Z');
  store = new MemoryStore<AgentRunStatus>({ now: () => new Date(clock) });
  runner = new FakeAgentRunner({ now: () => clock });
  slots = new Slots({ limit: 2 });
  reconciler = new AgentRunReconciler({ store, runner, slots, now: () => clock, retryDelayMs: 1000 });
});

async function create(name: string, spec: Record<string, unknown>): Promise<ResourceRef> {
  const run = await store.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace: 'default' }, spec });
  return { namespace: run.metadata.namespace, name: run.metadata.name };
}

/** Reconciles like the loop would: again while asked to right away, at most `max` times. Returns the last result. */
async function reconcile(ref: ResourceRef, max = 5): Promise<ReconcileResult> {
  let result: ReconcileResult = {};
  for (let i = 0; i < max; i += 1) {
    result = await reconciler.reconcile(keyOf(ref), ctx);
    if (result.requeueAfterMs !== 0) return result;
  }
  return result;
}

async function status(ref: ResourceRef): Promise<AgentRunStatus | undefined> {
  return (await store.get(ref)).status;
}

describe('AgentRunReconciler', () => {
  it('runs a spec to Succeeded with result, usage, session and kstatus conditions', async () => {
    const ref = await create('ok', { prompt: 'hello' });
    await reconcile(ref); // finalizer, start
    const run = await store.get(ref);
    expect(run.metadata.finalizers).toEqual([CLEANUP_FINALIZER]);
    expect(run.status?.phase).toBe('Running');
    expect(getCondition(run.status, 'Reconciling')?.status).toBe('True');
    await reconcile(ref); // container ended
    const s = await status(ref);
    expect(s).toMatchObject({
      phase: 'Succeeded',
      observedGeneration: 1,
      attempt: 1,
      exitCode: 0,
      result: 'echo: hello',
      usage: { inputTokens: 3, outputTokens: 4, costUSD: 0.01, numTurns: 1, durationMs: 5, model: 'fake-model' },
    });
    expect(s?.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(s?.completionTime).toBeDefined();
    expect(getCondition(s, 'Succeeded')).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(getCondition(s, 'Ready')?.status).toBe('True');
    expect(getCondition(s, 'Stalled')?.status).toBe('False');
    expect(runner.containers.size).toBe(0); // removed once recorded
    expect(slots.running).toBe(0);
  });

  it('fails an invalid spec with InvalidSpec and starts nothing', async () => {
    const ref = await create('bad', { prompt: '', claude: { maxTurns: 'many' } });
    await reconcile(ref);
    const s = await status(ref);
    expect(s?.phase).toBe('Failed');
    expect(reasonOf(s)).toBe('InvalidSpec');
    expect(s?.message).toMatch(/spec\.prompt/);
    expect(getCondition(s, 'Stalled')?.status).toBe('True');
    expect(runner.starts).toHaveLength(0);
  });

  it('records a terminal start failure (missing image) as Failed and rethrows it for the loop', async () => {
    runner.missingImages.add('localhost/none:latest');
    const ref = await create('noimg', { prompt: 'x', podman: { image: 'localhost/none:latest' } });
    await expect(reconciler.reconcile(keyOf(ref), ctx)).rejects.toBeInstanceOf(TerminalError);
    expect(reasonOf(await status(ref))).toBe('ImageNotFound');
    expect(slots.running).toBe(0);
  });

  it('says why a start keeps failing (retryable), once, and starts when the cause is gone', async () => {
    runner.startError = new Error('podman storage is busy');
    const ref = await create('busy', { prompt: 'x' });
    await expect(reconciler.reconcile(keyOf(ref), ctx)).rejects.toThrow('podman storage is busy');
    const first = await store.get(ref);
    expect(first.status).toMatchObject({ phase: 'Pending', message: 'could not start the container yet (retrying): podman storage is busy' });
    await expect(reconciler.reconcile(keyOf(ref), ctx)).rejects.toThrow();
    // Same reason: no second write, so the status write cannot wake the run and defeat the backoff.
    expect((await store.get(ref)).metadata.resourceVersion).toBe(first.metadata.resourceVersion);
    expect(slots.running).toBe(0);
    runner.startError = undefined;
    await reconcile(ref); // starts
    await reconcile(ref); // records the end
    expect((await status(ref))?.phase).toBe('Succeeded');
  });

  it('holds runs over the limit as Queued and starts them by priority, then age', async () => {
    const woken: string[] = [];
    slots = new Slots({ limit: 2, wake: (keys) => woken.push(...keys) });
    reconciler = new AgentRunReconciler({ store, runner, slots, now: () => clock });
    runner.script = () => undefined; // containers keep running
    const refs: ResourceRef[] = [];
    for (const [i, priority] of [0, 0, 0, 5].entries()) {
      clock += 1000;
      refs.push(await create(`r${i}`, { prompt: 'x', priority }));
    }
    for (const ref of refs) await reconcile(ref);
    expect(runner.runningCount()).toBe(2);
    expect(await status(refs[2]!)).toMatchObject({ phase: 'Pending' });
    expect(reasonOf(await status(refs[2]!))).toBe('Queued');
    expect(reasonOf(await status(refs[3]!))).toBe('Queued');
    // r0 ends: next in line is r3 (priority 5), not r2 (older).
    runner.finish(runner.starts[0]!.request.containerName, { exitCode: 0, stdout: successTranscript('s', 'a') });
    await reconcile(refs[0]!);
    expect(woken).toEqual(['default/r3']);
    await reconcile(refs[2]!);
    await reconcile(refs[3]!);
    expect((await status(refs[3]!))?.phase).toBe('Running');
    expect(reasonOf(await status(refs[2]!))).toBe('Queued');
    expect(runner.runningCount()).toBe(2);
  });

  it('cancels a running run: container stopped, Cancelled, and it stays cancelled', async () => {
    runner.script = () => undefined;
    const ref = await create('c', { prompt: 'x' });
    await reconcile(ref);
    expect(runner.runningCount()).toBe(1);
    await store.patchSpec(ref, { cancel: true });
    await reconcile(ref);
    expect((await status(ref))?.phase).toBe('Cancelled');
    expect(runner.runningCount()).toBe(0);
    await store.patchSpec(ref, { cancel: null });
    await reconcile(ref);
    expect((await status(ref))?.phase).toBe('Cancelled');
    expect(runner.starts).toHaveLength(1);
  });

  it('cancels a run that has not started', async () => {
    const ref = await create('c0', { prompt: 'x', cancel: true });
    await reconcile(ref);
    expect((await status(ref))?.phase).toBe('Cancelled');
    expect(runner.starts).toHaveLength(0);
  });

  it('adopts a container that exists when the status does not know it (crash between start and status write)', async () => {
    runner.script = () => undefined;
    const ref = await create('adopt', { prompt: 'x' });
    await reconcile(ref);
    const name = (await status(ref))?.containerName ?? '';
    // Wipe what the status knows, as if the write after start was lost.
    const run = await store.get(ref);
    await store.updateStatus(ref, {}, run.metadata.resourceVersion);
    await reconcile(ref);
    expect(runner.starts.filter((s) => !s.adopted)).toHaveLength(1);
    expect((await status(ref))?.containerName).toBe(name);
    expect((await status(ref))?.phase).toBe('Running');
  });

  it('retries a crash within backoffLimit with a new container, then fails with the last reason', async () => {
    runner.script = () => ({ exitCode: 139, stderr: 'segfault' });
    const ref = await create('crash', { prompt: 'x', backoffLimit: 1 });
    await reconcile(ref);
    const retry = await reconcile(ref);
    expect(retry.requeueAfterMs).toBe(1000);
    expect(await status(ref)).toMatchObject({ phase: 'Pending', attempt: 2 });
    expect(reasonOf(await status(ref))).toBe('Retrying');
    await reconcile(ref);
    await reconcile(ref);
    const s = await status(ref);
    expect(s).toMatchObject({ phase: 'Failed', attempt: 2, exitCode: 139, crash: { exitCode: 139, signal: 'SIGSEGV', stderrTail: 'segfault' } });
    expect(reasonOf(s)).toBe('Crashed');
    expect(new Set(runner.starts.map((s) => s.request.containerName)).size).toBe(2);
  });

  it('ends DeadlineExceeded when the deadline passes, keeping partial output', async () => {
    runner.script = () => undefined;
    const ref = await create('slow', { prompt: 'x', activeDeadlineSeconds: 5 });
    await reconcile(ref);
    const name = (await status(ref))?.containerName ?? '';
    runner.logs.set(runner.logPath(runner.starts[0]!.request.run, 1), successTranscript('s', 'partial').slice(0, 2));
    clock += 6_000;
    await reconcile(ref);
    const s = await status(ref);
    expect(s?.phase).toBe('Failed');
    expect(reasonOf(s)).toBe('DeadlineExceeded');
    expect(s?.result).toBe('partial');
    expect(runner.containers.has(name)).toBe(false);
  });

  it('finalizes a deleted run: container stopped and removed, finalizer dropped, object gone', async () => {
    runner.script = () => undefined;
    const ref = await create('del', { prompt: 'x' });
    await reconcile(ref);
    await store.delete(ref);
    expect((await store.get(ref)).metadata.deletionTimestamp).toBeDefined();
    await reconcile(ref);
    expect(runner.containers.size).toBe(0);
    await expect(store.get(ref)).rejects.toThrow();
    expect(slots.running).toBe(0);
    // Its logs stay for the default retention (7 days), then a sweep removes them.
    expect(runner.retention.get(runner.starts[0]!.request.run.uid)).toBe(clock + 7 * 24 * 3600 * 1000);
  });

  it('records a newer generation on a finished run without rerunning it', async () => {
    const ref = await create('gen', { prompt: 'x' });
    await reconcile(ref);
    await reconcile(ref);
    await store.patchSpec(ref, { prompt: 'y' });
    await reconcile(ref);
    expect(await status(ref)).toMatchObject({ phase: 'Succeeded', observedGeneration: 2 });
    expect(runner.starts).toHaveLength(1);
  });

  it('deletes a finished run after its TTL', async () => {
    const ref = await create('ttl', { prompt: 'x', ttlSecondsAfterFinished: 30 });
    await reconcile(ref);
    await reconcile(ref);
    const wait = await reconcile(ref);
    expect(wait.requeueAfterMs).toBe(30_000);
    clock += 30_000;
    await reconcile(ref); // asks for deletion
    await reconcile(ref); // finalizes
    await expect(store.get(ref)).rejects.toThrow();
  });

  it('a status write with a stale resourceVersion fails with a conflict and changes nothing; a fresh read then records the run once', async () => {
    runner.script = () => undefined;
    const ref = await create('conflict', { prompt: 'x' });
    await reconcile(ref);
    expect((await status(ref))?.phase).toBe('Running');
    const stale = await store.get(ref);
    await store.patchSpec(ref, { priority: 1 }); // bumps resourceVersion behind the reconciler's back
    runner.finish(runner.starts[0]!.request.containerName, { exitCode: 0, stdout: successTranscript('s', 'done') });
    const staleStore: ResourceStore<AgentRunStatus> = {
      list: (o) => store.list(o),
      listPage: (o) => store.listPage(o),
      get: async () => stale,
      watch: (signal) => store.watch(signal),
      create: (o) => store.create(o),
      patchSpec: (r, p, v) => store.patchSpec(r, p, v),
      updateStatus: (r, s, v) => store.updateStatus(r, s, v),
      setFinalizers: (r, f, v) => store.setFinalizers(r, f, v),
      delete: (r) => store.delete(r),
    };
    const r = new AgentRunReconciler({ store: staleStore, runner, slots, now: () => clock });
    await expect(r.reconcile(keyOf(ref), ctx)).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await status(ref))?.phase).toBe('Running');
    expect(runner.containers.size).toBe(1); // not removed before its end was recorded
    await reconcile(ref);
    expect(await status(ref)).toMatchObject({ phase: 'Succeeded', result: 'done' });
    expect(runner.starts).toHaveLength(1);
  });
});
