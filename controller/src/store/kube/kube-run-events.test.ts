import { describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../../contract/apis/v1alpha1/index.ts';
import type { Resource } from '../../../../contract/store/store.ts';
import type { RunEvent } from '../../agentrun/run-events.ts';
import { KubeRunEvents, REPORTING_CONTROLLER } from './kube-run-events.ts';
import type { EventsClient } from './kube-run-events.ts';

type Call = { verb: 'create' | 'patch'; namespace: string; name: string; body: Record<string, unknown> };

function fakeApi(failWith?: unknown): { api: EventsClient; calls: Call[] } {
  const calls: Call[] = [];
  const api = {
    createNamespacedEvent: (params: { namespace: string; body: { metadata?: { name?: string } } }) => {
      calls.push({ verb: 'create', namespace: params.namespace, name: params.body.metadata?.name ?? '', body: JSON.parse(JSON.stringify(params.body)) as Record<string, unknown> });
      return failWith === undefined ? Promise.resolve(params.body) : Promise.reject(failWith);
    },
    patchNamespacedEvent: (params: { namespace: string; name: string; body: unknown }) => {
      calls.push({ verb: 'patch', namespace: params.namespace, name: params.name, body: JSON.parse(JSON.stringify(params.body)) as Record<string, unknown> });
      return Promise.resolve({});
    },
  } as unknown as EventsClient;
  return { api, calls };
}

function logger(): { lines: string[]; debug: (o: object, m: string) => void; info: () => void; warn: (o: object, m: string) => void; error: () => void } {
  const lines: string[] = [];
  return { lines, debug: (_o, m) => lines.push(`debug ${m}`), info: () => undefined, warn: (_o, m) => lines.push(`warn ${m}`), error: () => undefined };
}

const run: Resource<AgentRunStatus> = {
  apiVersion: 'stromboli.dev/v1alpha1',
  kind: 'AgentRun',
  metadata: { name: 'hello', namespace: 'ns', uid: 'uid-1', resourceVersion: '42', generation: 1, creationTimestamp: '2026-12-01T00:00:00Z' },
  spec: {},
};
const running: RunEvent = { type: 'Normal', reason: 'Running', message: 'container c is running', action: 'Start' };

describe('KubeRunEvents', () => {
  it('creates an events.k8s.io/v1 Event regarding the run, from the controller and its node', async () => {
    const { api, calls } = fakeApi();
    const events = new KubeRunEvents({ api, reportingInstance: 'node-a', log: logger(), now: () => Date.parse('2026-12-01T00:00:01.234Z') });
    events.record(run, running);
    await events.flush();
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      verb: 'create',
      namespace: 'ns',
      body: {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        eventTime: '2026-12-01T00:00:01.234000Z', // MicroTime: six fractional digits
        reportingController: REPORTING_CONTROLLER,
        reportingInstance: 'node-a',
        action: 'Start',
        reason: 'Running',
        type: 'Normal',
        note: 'container c is running',
        regarding: { apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', namespace: 'ns', name: 'hello', uid: 'uid-1', resourceVersion: '42' },
      },
    });
    expect(calls[0]?.name).toMatch(/^hello\.[0-9a-f]+$/);
  });

  it('counts an identical event within the window on the first one (series), and creates a new one after it', async () => {
    const { api, calls } = fakeApi();
    let now = Date.parse('2026-12-01T00:00:00Z');
    const events = new KubeRunEvents({ api, reportingInstance: 'n', log: logger(), now: () => now, repeatWindowMs: 60_000 });
    events.record(run, running);
    now += 1_000;
    events.record(run, running);
    now += 1_000;
    events.record(run, running);
    await events.flush();
    expect(calls.map((c) => c.verb)).toEqual(['create', 'patch', 'patch']);
    expect(calls[2]).toMatchObject({ name: calls[0]?.name, body: { series: { count: 3, lastObservedTime: '2026-12-01T00:00:02.000000Z' } } });
    now += 120_000;
    events.record(run, running);
    await events.flush();
    expect(calls.map((c) => c.verb)).toEqual(['create', 'patch', 'patch', 'create']);
  });

  it('keeps a budget per run: a burst, then one per refill period', async () => {
    const { api, calls } = fakeApi();
    let now = 0;
    const log = logger();
    const events = new KubeRunEvents({ api, reportingInstance: 'n', log, now: () => now, burst: 2, refillMs: 60_000 });
    for (const reason of ['A', 'B', 'C']) events.record(run, { ...running, reason });
    events.record({ ...run, metadata: { ...run.metadata, uid: 'uid-2', name: 'other' } }, running);
    now += 60_000;
    events.record(run, { ...running, reason: 'D' });
    await events.flush();
    // Requests are ordered per run; runs go side by side.
    expect(calls.map((c) => `${String(c.body['reason'])}@${String((c.body['regarding'] as { name: string }).name)}`).sort()).toEqual(['A@hello', 'B@hello', 'D@hello', 'Running@other']);
    expect(log.lines).toContain('debug event dropped: too many events for this run');
  });

  it('never throws when the API server refuses: warns once, then logs at debug', async () => {
    const { api } = fakeApi(Object.assign(new Error('forbidden'), { code: 403, body: '{"kind":"Status","code":403,"reason":"Forbidden","message":"events is forbidden"}' }));
    const log = logger();
    const events = new KubeRunEvents({ api, reportingInstance: 'n', log });
    events.record(run, running);
    events.record(run, { ...running, reason: 'Succeeded' });
    await events.flush();
    expect(log.lines).toEqual([expect.stringMatching(/^warn event not recorded/), 'debug event not recorded']);
  });
});
