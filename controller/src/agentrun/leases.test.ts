import { describe, expect, it } from 'vitest';
import { ConflictError } from '../../../contract/errors.ts';
import { MemoryLeaseStore, decideLeaseStep, isLeaseExpired, leaseAfter, toMicroTime } from './leases.ts';
import type { LeaseRecord } from './leases.ts';

const T = Date.parse('2026-12-01T10:00:00Z');
const lease = (fields: Partial<LeaseRecord>): LeaseRecord => ({ name: 'l', leaseDurationSeconds: 10, leaseTransitions: 0, resourceVersion: '1', ...fields });

describe('decideLeaseStep', () => {
  it.each([
    ['no Lease yet', undefined, 'create'],
    ['mine and live', lease({ holderIdentity: 'a', renewTime: toMicroTime(T - 5_000) }), 'renew'],
    ['mine but expired (frozen past it)', lease({ holderIdentity: 'a', renewTime: toMicroTime(T - 11_000) }), 'take'],
    ['another holder, expired', lease({ holderIdentity: 'b', renewTime: toMicroTime(T - 11_000) }), 'take'],
    ['released (no holder)', lease({ renewTime: toMicroTime(T) }), 'take'],
    ['another holder, live', lease({ holderIdentity: 'b', renewTime: toMicroTime(T - 1_000) }), 'wait'],
  ] as const)('%s: %s', (_title, current, step) => {
    expect(decideLeaseStep(current, 'a', T).type).toBe(step);
  });

  it('counts a transition only when the holder changes', () => {
    const base = { name: 'l', me: 'a', durationSeconds: 10, now: T };
    expect(leaseAfter('take', lease({ holderIdentity: 'b', leaseTransitions: 2 }), base).leaseTransitions).toBe(3);
    expect(leaseAfter('take', lease({ holderIdentity: 'a', leaseTransitions: 2 }), base).leaseTransitions).toBe(2);
    expect(leaseAfter('renew', lease({ holderIdentity: 'a', leaseTransitions: 2, acquireTime: 'x' }), base)).toMatchObject({ acquireTime: 'x', renewTime: toMicroTime(T) });
  });

  it('treats a Lease without a parsable renewTime as expired', () => {
    expect(isLeaseExpired({ holderIdentity: 'a', leaseDurationSeconds: 10 }, T)).toBe(true);
    expect(isLeaseExpired({ holderIdentity: 'a', leaseDurationSeconds: 10, renewTime: 'garbage' }, T)).toBe(true);
  });
});

describe('MemoryLeaseStore', () => {
  it('rejects a second create and a stale update with ConflictError, like the API server', async () => {
    const leases = new MemoryLeaseStore();
    const created = await leases.create({ name: 'l', holderIdentity: 'a', leaseDurationSeconds: 10, leaseTransitions: 0, node: 'a' });
    await expect(leases.create({ name: 'l', leaseDurationSeconds: 10, leaseTransitions: 0 })).rejects.toBeInstanceOf(ConflictError);
    const updated = await leases.update({ ...created, holderIdentity: 'b' });
    await expect(leases.update({ ...created, holderIdentity: 'c' })).rejects.toBeInstanceOf(ConflictError);
    expect((await leases.get('l'))?.holderIdentity).toBe('b');
    expect(updated.resourceVersion).not.toBe(created.resourceVersion);
    expect((await leases.listNodeLeases()).map((l) => l.node)).toEqual(['a']);
  });
});
