import { describe, expect, it } from 'vitest';
import { LeaseKeeper } from './lease-keeper.ts';
import { MemoryLeaseStore, toMicroTime } from './leases.ts';

const quiet = { info() {}, warn() {}, debug() {} };

function keeper(leases: MemoryLeaseStore, identity: string, clock: { now: number }, hooks: { acquired?: boolean[]; lost?: number[] } = {}): LeaseKeeper {
  return new LeaseKeeper({
    leases,
    name: 'role',
    identity,
    durationSeconds: 10,
    log: quiet,
    now: () => clock.now,
    onAcquired: (regained) => void hooks.acquired?.push(regained),
    onLost: () => void hooks.lost?.push(clock.now),
  });
}

describe('LeaseKeeper', () => {
  it('holds a Lease nobody has, and a second candidate waits until it expires', async () => {
    const leases = new MemoryLeaseStore();
    const clock = { now: Date.parse('2026-12-01T10:00:00Z') };
    const a = keeper(leases, 'a', clock);
    const b = keeper(leases, 'b', clock);
    await a.tick();
    await b.tick();
    expect(a.held()).toBe(true);
    expect(b.held()).toBe(false);
    clock.now += 5_000;
    await a.tick(); // renews
    clock.now += 8_000;
    await b.tick();
    expect(b.held()).toBe(false); // renewed 8 s ago: still a's
    clock.now += 3_000; // a stopped renewing 11 s ago
    await b.tick();
    expect(b.held()).toBe(true);
    expect((await leases.get('role'))).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  });

  it('stops saying held the moment its renewal is older than the duration (a frozen process), and rejoins through onAcquired', async () => {
    const leases = new MemoryLeaseStore();
    const clock = { now: Date.parse('2026-12-01T10:00:00Z') };
    const hooks = { acquired: [] as boolean[], lost: [] as number[] };
    const a = keeper(leases, 'a', clock, hooks);
    await a.tick();
    expect(hooks.acquired).toEqual([false]);
    clock.now += 12_000; // SIGSTOP past the duration: no timer ran
    expect(a.held()).toBe(false);
    await a.tick();
    expect(hooks.lost).toHaveLength(1);
    expect(hooks.acquired).toEqual([false, true]);
    expect(a.held()).toBe(true);
  });

  it('stops claiming while renewals fail, and loses the Lease once another agent took it', async () => {
    const leases = new MemoryLeaseStore();
    const clock = { now: Date.parse('2026-12-01T10:00:00Z') };
    const hooks = { acquired: [] as boolean[], lost: [] as number[] };
    const a = keeper(leases, 'a', clock, hooks);
    await a.tick();
    leases.failWith = new Error('connection refused');
    await a.tick();
    expect(a.held()).toBe(false);
    expect(hooks.lost).toHaveLength(0); // not lost yet: it may still be ours
    leases.failWith = undefined;
    const current = await leases.get('role');
    await leases.update({ ...current!, holderIdentity: 'b', renewTime: toMicroTime(clock.now) });
    await a.tick();
    expect(a.held()).toBe(false);
    expect(hooks.lost).toHaveLength(1);
  });

  it('gives the Lease up on stop({ release }), so another candidate takes it at once', async () => {
    const leases = new MemoryLeaseStore();
    const clock = { now: Date.parse('2026-12-01T10:00:00Z') };
    const a = keeper(leases, 'a', clock);
    const b = keeper(leases, 'b', clock);
    await a.tick();
    await a.stop({ release: true });
    await b.tick();
    expect(b.held()).toBe(true);
  });
});
