import { describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import type { Resource } from '../../../contract/store/store.ts';
import { OneAtATime, claimedIn, countClaimed, decideNamespaceCap, parseCap } from './namespace-cap.ts';

function run(uid: string, status: Partial<AgentRunStatus> | undefined): Resource<AgentRunStatus> {
  return {
    apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', spec: {},
    metadata: { name: uid, namespace: 'ns', uid, resourceVersion: '1', generation: 1, creationTimestamp: '2026-12-01T10:00:00Z' },
    ...(status === undefined ? {} : { status: status as AgentRunStatus }),
  };
}

describe('parseCap', () => {
  it.each<[string | undefined, number | undefined]>([['3', 3], [' 0 ', 0], [undefined, undefined], ['-1', undefined], ['two', undefined], ['1.5', undefined], ['', undefined]])('reads %j as %j', (value, cap) => {
    expect(parseCap(value)).toBe(cap);
  });
});

describe('countClaimed', () => {
  it('counts the unfinished runs some agent claimed, other than the asking run', () => {
    const runs = [
      run('running', { phase: 'Running', node: 'a' }),
      run('claimed', { phase: 'Pending', node: 'b' }),
      run('queued', { phase: 'Pending' }),
      run('done', { phase: 'Succeeded', node: 'a' }),
      run('new', undefined),
      run('me', { phase: 'Pending', node: 'a' }),
    ];
    expect(countClaimed(runs, 'me')).toBe(2);
  });
});

describe('decideNamespaceCap', () => {
  it('claims with no cap or below it, and waits NamespaceCapReached at it', () => {
    expect(decideNamespaceCap({ namespace: 'ns', cap: undefined, claimed: 9 })).toEqual({ type: 'claim' });
    expect(decideNamespaceCap({ namespace: 'ns', cap: 2, claimed: 1 })).toEqual({ type: 'claim' });
    expect(decideNamespaceCap({ namespace: 'ns', cap: 2, claimed: 2 })).toEqual({
      type: 'wait',
      change: { phase: 'Pending', reason: 'NamespaceCapReached', message: 'namespace ns runs 2 of its 2 allowed runs (stromboli.dev/max-running-runs); waiting' },
    });
    expect(decideNamespaceCap({ namespace: 'ns', cap: 0, claimed: 0 }).type).toBe('wait');
  });
});

describe('claimedIn', () => {
  it("adds the runs this agent holds a slot for that the list does not show claimed yet, once each, never the run itself or a finished one", async () => {
    const run = (name: string, uid: string, status?: Record<string, unknown>) => ({ apiVersion: 'v', kind: 'k', metadata: { name, namespace: 'ns', uid, generation: 1, resourceVersion: '1', creationTimestamp: 't' }, spec: {}, ...(status === undefined ? {} : { status }) });
    const runs = [run('a', 'ua', { phase: 'Running', node: 'n1' }), run('b', 'ub'), run('c', 'uc', { phase: 'Succeeded', node: 'n1' }), run('d', 'ud')];
    const store = { list: async () => runs as never };
    expect(await claimedIn(store, 'ns', 'ud')).toBe(1);
    expect(await claimedIn(store, 'ns', 'ud', ['ns/a', 'ns/b', 'ns/c', 'ns/d', 'other/x'])).toBe(2);
  });
});

describe('OneAtATime', () => {
  it('runs the tasks of one key one after another, other keys alongside, and goes on after a failure', async () => {
    const order: string[] = [];
    const serial = new OneAtATime();
    const task = (name: string, ms: number, fail = false) => async () => {
      order.push(`${name} start`);
      await new Promise((r) => setTimeout(r, ms));
      order.push(`${name} end`);
      if (fail) throw new Error(name);
      return name;
    };
    const results = await Promise.allSettled([serial.run('ns', task('a', 20, true)), serial.run('ns', task('b', 1)), serial.run('other', task('c', 1))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(order.indexOf('b start')).toBeGreaterThan(order.indexOf('a end'));
    expect(order.indexOf('c end')).toBeLessThan(order.indexOf('a end'));
  });
});
