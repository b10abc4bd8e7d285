import { describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import type { Resource } from '../../../contract/store/store.ts';
import { FakeRunEvents } from './run-events.ts';
import { RunTally } from './run-tally.ts';

function run(namespace: string, status: AgentRunStatus): Resource<AgentRunStatus> {
  return {
    apiVersion: 'stromboli.dev/v1alpha1',
    kind: 'AgentRun',
    metadata: { namespace, name: 'r', uid: 'u', generation: 1, resourceVersion: '1', creationTimestamp: '2026-12-08T00:00:00Z' },
    spec: { prompt: 'x' },
    status,
  };
}

describe('RunTally', () => {
  it('counts each transition, adds the usage of a run only when it ends, and hands every event on', () => {
    const next = new FakeRunEvents();
    const tally = new RunTally(next);
    const usage = { inputTokens: 100, outputTokens: 20, cacheReadInputTokens: 5, costUSD: 0.01, model: 'claude-haiku-4-5' };
    tally.record(run('a', { phase: 'Running', usage }), { type: 'Normal', reason: 'Running', message: '', action: 'Start' });
    tally.record(run('a', { phase: 'Succeeded', usage }), { type: 'Normal', reason: 'Succeeded', message: '', action: 'Succeed' });
    tally.record(run('a', { phase: 'Succeeded', usage }), { type: 'Normal', reason: 'Succeeded', message: '', action: 'Succeed' });
    tally.record(run('b', { phase: 'Failed' }), { type: 'Warning', reason: 'HookFailed', message: '', action: 'Fail' });
    expect(next.events).toHaveLength(4);
    const totals = tally.totals();
    expect(totals.transitions).toEqual([
      { namespace: 'a', phase: 'Running', reason: 'Running', count: 1 },
      { namespace: 'a', phase: 'Succeeded', reason: 'Succeeded', count: 2 },
      { namespace: 'b', phase: 'Failed', reason: 'HookFailed', count: 1 },
    ]);
    expect(totals.tokens).toEqual([
      { namespace: 'a', model: 'claude-haiku-4-5', kind: 'input', count: 200 },
      { namespace: 'a', model: 'claude-haiku-4-5', kind: 'output', count: 40 },
      { namespace: 'a', model: 'claude-haiku-4-5', kind: 'cache_read', count: 10 },
    ]);
    expect(totals.costUsd).toEqual([{ namespace: 'a', model: 'claude-haiku-4-5', usd: 0.02 }]);
  });

  it('counts a run without a model under "unknown", and returns copies', () => {
    const tally = new RunTally();
    tally.record(run('a', { phase: 'Failed', usage: { outputTokens: 3 } }), { type: 'Warning', reason: 'MaxTurns', message: '', action: 'Fail' });
    const totals = tally.totals();
    expect(totals.tokens).toEqual([{ namespace: 'a', model: 'unknown', kind: 'output', count: 3 }]);
    const first = totals.tokens[0];
    if (first !== undefined) first.count = 99;
    expect(tally.totals().tokens[0]?.count).toBe(3);
  });
});
