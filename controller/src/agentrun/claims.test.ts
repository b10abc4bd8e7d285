import { describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { decideNodeLoss, decideSessionClaim, ownershipOf, resumedSessionOf } from './claims.ts';
import type { NodeLossInput, SessionClaimInput } from './claims.ts';
import { CLEANUP_FINALIZER } from './phases.ts';

const NOW = Date.parse('2026-12-01T10:00:00Z');
const input = (status: Partial<AgentRunStatus> | undefined, fields: Partial<NodeLossInput> = {}): NodeLossInput => ({
  status: status === undefined ? undefined : ({ phase: 'Running', node: 'gone', ...status } as AgentRunStatus),
  spec: { prompt: 'x' },
  deleting: false,
  finalizers: [CLEANUP_FINALIZER],
  node: 'gone',
  now: NOW,
  ...fields,
});

describe('ownershipOf', () => {
  it.each([
    [undefined, 'unclaimed'],
    [{}, 'unclaimed'],
    [{ node: '' }, 'unclaimed'],
    [{ node: 'me' }, 'mine'],
    [{ node: 'other' }, 'other'],
  ] as const)('status %j is %s', (status, kind) => {
    expect(ownershipOf(status, 'me').kind).toBe(kind);
  });
});

describe('decideNodeLoss', () => {
  it('ends a running run of a lost node Failed NodeLost when no attempt is left, keeping status.node', () => {
    const action = decideNodeLoss(input({ phase: 'Running', attempt: 1, containerName: 'c1' }));
    expect(action).toMatchObject({ type: 'fail-over', retry: false, change: { phase: 'Failed', reason: 'NodeLost', completed: true } });
    expect(action.type === 'fail-over' && 'node' in action.change).toBe(false);
  });

  it('hands a run back to Pending for another agent when backoffLimit allows: node cleared, attempt moved on', () => {
    const action = decideNodeLoss(input({ phase: 'Running', attempt: 1, containerName: 'c1' }, { spec: { prompt: 'x', backoffLimit: 2 } }));
    expect(action).toMatchObject({ type: 'fail-over', retry: true, change: { phase: 'Pending', reason: 'Retrying', attempt: 2, node: undefined, containerName: undefined } });
    expect(action.type === 'fail-over' && 'node' in action.change).toBe(true);
  });

  it('fails over a claimed run that had not started yet too', () => {
    expect(decideNodeLoss(input({ phase: 'Pending' }))).toMatchObject({ type: 'fail-over', change: { reason: 'NodeLost' } });
  });

  it('never retries a cancelled run or one whose spec does not validate', () => {
    expect(decideNodeLoss(input({ attempt: 1 }, { spec: { prompt: 'x', backoffLimit: 3, cancel: true } }))).toMatchObject({ retry: false });
    expect(decideNodeLoss(input({ attempt: 1 }, { spec: undefined }))).toMatchObject({ retry: false });
  });

  it('leaves finished runs alone until their TTL passed, then deletes them', () => {
    const done = { phase: 'Succeeded' as const, completionTime: new Date(NOW - 30_000).toISOString() };
    expect(decideNodeLoss(input(done)).type).toBe('none');
    expect(decideNodeLoss(input(done, { spec: { prompt: 'x', ttlSecondsAfterFinished: 60 } })).type).toBe('none');
    expect(decideNodeLoss(input(done, { spec: { prompt: 'x', ttlSecondsAfterFinished: 10 } })).type).toBe('delete');
  });

  it('completes a deletion waiting on the lost node by dropping only our finalizer', () => {
    expect(decideNodeLoss(input({}, { deleting: true, finalizers: ['other/x', CLEANUP_FINALIZER] }))).toEqual({ type: 'release-finalizer', finalizers: ['other/x'] });
    expect(decideNodeLoss(input({}, { deleting: true, finalizers: ['other/x'] })).type).toBe('none');
  });

  it('ignores runs of another node', () => {
    expect(decideNodeLoss(input({ node: 'alive' })).type).toBe('none');
  });
});

describe('resumedSessionOf', () => {
  it('names the session of a resume or a fork, and nothing for a new conversation', () => {
    expect(resumedSessionOf({ session: { id: 's1', resume: true } })).toBe('s1');
    expect(resumedSessionOf({ session: { id: 's1', resume: true, fork: true } })).toBe('s1');
    expect(resumedSessionOf({ session: { id: 's1' } })).toBeUndefined();
    expect(resumedSessionOf({})).toBeUndefined();
  });
});

describe('decideSessionClaim', () => {
  const base: SessionClaimInput = { me: 'b', session: 's1', local: false, shared: false, home: 'a', homeLive: true };

  it.each<[string, Partial<SessionClaimInput>, string]>([
    ['claims a session whose HOME is here', { local: true }, 'claim'],
    ['claims any session when the sessions directory is shared', { shared: true, homeLive: false }, 'claim'],
    ['claims a session no run names a home for', { home: undefined, homeLive: undefined }, 'claim'],
    ['claims a session whose home is this node (its directory gone)', { home: 'b' }, 'claim'],
    ['leaves a session whose home node is alive to that node', {}, 'leave'],
    ['leaves a session whose home node is not known to be dead yet', { homeLive: undefined }, 'leave'],
    ['waits for a session whose home node is not alive', { homeLive: false }, 'wait'],
  ])('%s', (_title, over, expected) => {
    expect(decideSessionClaim({ ...base, ...over }).type).toBe(expected);
  });

  it('waits Pending with reason SessionNodeUnavailable and a message naming the node', () => {
    expect(decideSessionClaim({ ...base, homeLive: false })).toEqual({
      type: 'wait',
      node: 'a',
      change: { phase: 'Pending', reason: 'SessionNodeUnavailable', message: 'session s1 is on node a, which is not alive; waiting for it' },
    });
  });
});
