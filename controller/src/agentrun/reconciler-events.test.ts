// The reconciler's events (one per change of phase or reason, the reasons of the conditions) and
// spec.promptFrom (read through the PromptSource at start, never into status or events), over
// MemoryStore, FakeAgentRunner, FakeRunEvents and FakePromptSource.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { API_VERSION, KIND, reasonOf } from '../../../contract/apis/v1alpha1/index.ts';
import { clearSecretValues } from '../../../contract/redact.ts';
import { MemoryStore } from '../../../contract/store/memory-store.ts';
import type { ResourceRef } from '../../../contract/store/store.ts';
import { keyOf } from '../../../contract/store/store.ts';
import type { ReconcileContext, ReconcileResult } from '../reconcile/types.ts';
import { FakeAgentRunner, successTranscript } from '../runner/fake-runner.ts';
import { FakePromptSource } from './prompt-source.ts';
import { AgentRunReconciler } from './reconciler.ts';
import { FakeRunEvents, transitionEvent } from './run-events.ts';
import { Slots } from './slots.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {}, child() { return silent; } };
const ctx: ReconcileContext = { signal: new AbortController().signal, log: silent, reconcileId: 'test' };

let store: MemoryStore<AgentRunStatus>;
let runner: FakeAgentRunner;
let events: FakeRunEvents;
let prompts: FakePromptSource;
let slots: Slots;
let reconciler: AgentRunReconciler;
let clock: number;

beforeEach(() => {
  clock = Date.parse('2026-11-29T12:00:00Z');
  store = new MemoryStore<AgentRunStatus>({ now: () => new Date(clock) });
  runner = new FakeAgentRunner({ now: () => clock });
  events = new FakeRunEvents();
  prompts = new FakePromptSource();
  slots = new Slots({ limit: 1 });
  reconciler = new AgentRunReconciler({ store, runner, slots, events, prompts, now: () => clock, retryDelayMs: 1000 });
});

afterEach(() => clearSecretValues());

async function create(name: string, spec: Record<string, unknown>): Promise<ResourceRef> {
  const run = await store.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace: 'default' }, spec });
  return { namespace: run.metadata.namespace, name: run.metadata.name };
}

/** Reconciles until the run rests (no immediate requeue), swallowing what the loop would retry; `times` rounds. */
async function reconcile(ref: ResourceRef, times = 1): Promise<void> {
  for (let round = 0; round < times; round += 1) {
    for (let i = 0; i < 5; i += 1) {
      const result = await reconciler.reconcile(keyOf(ref), ctx).catch((): ReconcileResult => ({}));
      if (result.requeueAfterMs !== 0) break;
    }
  }
}

async function statusOf(ref: ResourceRef): Promise<AgentRunStatus | undefined> {
  return (await store.get(ref)).status;
}

/** Ends the run's running fake container with a successful result. */
async function succeed(ref: ResourceRef): Promise<void> {
  const s = await statusOf(ref);
  runner.finish(s?.containerName ?? '', { exitCode: 0, stdout: successTranscript(s?.sessionId ?? '', 'done') });
}

describe('events', () => {
  it('records one event per transition with the reasons of the conditions, none for reconciles that change nothing', async () => {
    runner.script = () => undefined; // keeps running until told otherwise
    const ref = await create('story', { prompt: 'hello' });
    await reconcile(ref);
    await reconcile(ref, 3); // still running: watched, nothing written
    expect(events.reasonsOf('default/story')).toEqual(['Running']);
    await succeed(ref);
    await reconcile(ref, 3);
    const status = await statusOf(ref);
    expect(status?.phase).toBe('Succeeded');
    expect(events.reasonsOf('default/story')).toEqual(['Running', 'Succeeded']);
    expect(events.events.map((e) => [e.type, e.action])).toEqual([['Normal', 'Start'], ['Normal', 'Succeed']]);
    expect(events.events.at(-1)?.message).toBe(status?.message);
    expect(events.events.at(-1)?.uid).toBe((await store.get(ref)).metadata.uid);
  });

  it('records queueing, a refusal and a failed attempt as they are written', async () => {
    runner.script = () => undefined;
    const first = await create('first', { prompt: 'x' });
    const queued = await create('queued', { prompt: 'x' });
    await reconcile(first);
    await reconcile(queued, 3);
    expect(events.reasonsOf('default/queued')).toEqual(['Queued']);
    expect(events.events.find((e) => e.key === 'default/queued')).toMatchObject({ type: 'Normal', action: 'Queue' });

    const bad = await create('bad', { prompt: 'x', claude: { maxTurns: 'many' } });
    await reconcile(bad, 3);
    expect(events.events.filter((e) => e.key === 'default/bad')).toEqual([
      expect.objectContaining({ type: 'Warning', reason: 'InvalidSpec', action: 'Fail', message: expect.stringContaining('spec.claude.maxTurns') }),
    ]);
  });

  it('records each attempt of a retried run: Running, Retrying (Warning), Running, then the failure', async () => {
    slots = new Slots({ limit: 4 });
    reconciler = new AgentRunReconciler({ store, runner, slots, events, prompts, now: () => clock, retryDelayMs: 1 });
    runner.script = () => ({ exitCode: 139, stderr: 'segfault' });
    const ref = await create('crash', { prompt: 'x', backoffLimit: 1 });
    await reconcile(ref, 6);
    expect(reasonOf(await statusOf(ref))).toBe('Crashed');
    expect(events.reasonsOf('default/crash')).toEqual(['Running', 'Retrying', 'Running', 'Crashed']);
    expect(events.events.map((e) => e.type)).toEqual(['Normal', 'Warning', 'Normal', 'Warning']);
  });

  it('decides from the phase and the reason only', () => {
    const running = { phase: 'Running' as const, message: 'm', conditions: [{ type: 'Succeeded', status: 'Unknown' as const, reason: 'Running', lastTransitionTime: 't' }] };
    expect(transitionEvent(undefined, running)).toEqual({ type: 'Normal', reason: 'Running', message: 'm', action: 'Start' });
    expect(transitionEvent(running, { ...running, message: 'other' })).toBeUndefined();
    expect(transitionEvent(undefined, { phase: 'Pending' })).toBeUndefined();
  });
});

describe('spec.promptFrom', () => {
  it('starts the container with the prompt read from a ConfigMap, never writing it to status or events', async () => {
    prompts.set('default', 'configmap', 'prompts', { task: 'the long task text' });
    const ref = await create('cm', { promptFrom: { configMapKeyRef: { name: 'prompts', key: 'task' } } });
    await reconcile(ref, 2);
    expect(runner.starts[0]?.request.spec.prompt).toBe('the long task text');
    expect(runner.starts[0]?.request.spec).not.toHaveProperty('promptFrom');
    const status = await statusOf(ref);
    expect(status?.phase).toBe('Succeeded');
    expect(status?.result).toBe('echo: the long task text'); // what the CLI printed, as for any prompt
    const { result: _result, ...rest } = status ?? {};
    expect(JSON.stringify(rest)).not.toContain('long task');
    expect(JSON.stringify(events.events)).not.toContain('long task');
    expect(prompts.reads).toEqual(['default/configmap/prompts']);
  });

  it('scrubs a prompt read from a Secret out of what the run reports', async () => {
    prompts.set('default', 'secret', 'vault', { prompt: 'top secret instructions' });
    const ref = await create('sec', { promptFrom: { secretKeyRef: { name: 'vault', key: 'prompt' } } });
    await reconcile(ref, 2);
    expect(runner.starts[0]?.request.spec.prompt).toBe('top secret instructions');
    expect((await statusOf(ref))?.result).toBe('echo: ***');
  });

  it('ends Failed PromptNotFound, starting nothing, for a missing ConfigMap or key', async () => {
    prompts.set('default', 'configmap', 'prompts', { other: 'x' });
    const noKey = await create('nokey', { promptFrom: { configMapKeyRef: { name: 'prompts', key: 'task' } } });
    const noMap = await create('nomap', { promptFrom: { configMapKeyRef: { name: 'missing', key: 'task' } } });
    slots = new Slots({ limit: 4 });
    reconciler = new AgentRunReconciler({ store, runner, slots, events, prompts, now: () => clock });
    await reconcile(noKey, 2);
    await reconcile(noMap, 2);
    const a = await statusOf(noKey);
    expect(a?.phase).toBe('Failed');
    expect(reasonOf(a)).toBe('PromptNotFound');
    expect(a?.message).toBe('spec.promptFrom: configmap prompts key task in namespace default: no key task');
    expect(reasonOf(await statusOf(noMap))).toBe('PromptNotFound');
    expect((await statusOf(noMap))?.message).toContain('configmap missing key task in namespace default: configmap not found');
    expect(runner.starts).toHaveLength(0);
    expect(slots.running).toBe(0);
    expect(events.reasonsOf('default/nokey')).toEqual(['PromptNotFound']);
  });

  it('refuses promptFrom without a cluster (the default source) as InvalidSpec', async () => {
    reconciler = new AgentRunReconciler({ store, runner, slots, events, now: () => clock });
    const ref = await create('embedded', { promptFrom: { configMapKeyRef: { name: 'p', key: 'k' } } });
    await reconcile(ref, 2);
    const s = await statusOf(ref);
    expect(reasonOf(s)).toBe('InvalidSpec');
    expect(s?.message).toMatch(/promptFrom needs a Kubernetes cluster/);
    expect(runner.starts).toHaveLength(0);
  });

  it('fails a spec with both prompt and promptFrom, or neither, as InvalidSpec naming spec.prompt', async () => {
    const both = await create('both', { prompt: 'x', promptFrom: { configMapKeyRef: { name: 'p', key: 'k' } } });
    const neither = await create('neither', { workdir: '/w' });
    const twoRefs = await create('two', { promptFrom: { configMapKeyRef: { name: 'p', key: 'k' }, secretKeyRef: { name: 's', key: 'k' } } });
    for (const ref of [both, neither, twoRefs]) await reconcile(ref);
    expect((await statusOf(both))?.message).toBe('invalid spec: spec.prompt: exactly one of prompt or promptFrom is required');
    expect((await statusOf(neither))?.message).toBe('invalid spec: spec.prompt: exactly one of prompt or promptFrom is required');
    expect((await statusOf(twoRefs))?.message).toBe('invalid spec: spec.promptFrom: promptFrom needs exactly one of configMapKeyRef or secretKeyRef');
    expect(runner.starts).toHaveLength(0);
  });
});

describe('status.duration', () => {
  it('is the wall time from start to completion, written when the run finishes', async () => {
    runner.script = () => undefined;
    const ref = await create('timed', { prompt: 'x' });
    await reconcile(ref);
    expect((await statusOf(ref))?.duration).toBeUndefined();
    clock += 83_000;
    await succeed(ref);
    await reconcile(ref);
    expect((await statusOf(ref))?.duration).toBe('1m23s');
  });
});
