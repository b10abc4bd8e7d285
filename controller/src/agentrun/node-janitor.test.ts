import { beforeEach, describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { API_VERSION, KIND, reasonOf } from '../../../contract/apis/v1alpha1/index.ts';
import { MemoryStore } from '../../../contract/store/memory-store.ts';
import type { ResourceRef } from '../../../contract/store/store.ts';
import { MemoryLeaseStore, nodeLeaseName, toMicroTime } from './leases.ts';
import { NodeJanitor } from './node-janitor.ts';

const quiet = { info() {}, warn() {}, debug() {} };
let clock: number;
let store: MemoryStore<AgentRunStatus>;
let leases: MemoryLeaseStore;
let leader: { held: boolean };
let janitor: NodeJanitor;

async function runOn(name: string, node: string, spec: Record<string, unknown> = { prompt: 'x' }, status: Partial<AgentRunStatus> = {}): Promise<ResourceRef> {
  const run = await store.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace: 'default' }, spec });
  await store.updateStatus({ namespace: 'default', name }, { phase: 'Running', node, attempt: 1, containerName: `c-${name}`, ...status } as AgentRunStatus, run.metadata.resourceVersion);
  return { namespace: 'default', name };
}

async function renew(node: string, at: number): Promise<void> {
  const name = nodeLeaseName(node);
  const current = await leases.get(name);
  const fields = { name, holderIdentity: node, node, leaseDurationSeconds: 10, leaseTransitions: 0, renewTime: toMicroTime(at) };
  if (current === undefined) await leases.create(fields);
  else await leases.update({ ...fields, resourceVersion: current.resourceVersion });
}

beforeEach(() => {
  clock = Date.parse('2026-12-01T10:00:00Z');
  store = new MemoryStore<AgentRunStatus>({ now: () => new Date(clock) });
  leases = new MemoryLeaseStore();
  leader = { held: true };
  janitor = new NodeJanitor({ store, leases, leader: { held: () => leader.held }, leaseDurationSeconds: 10, log: quiet, now: () => clock });
});

describe('NodeJanitor', () => {
  it('says whether a node is live by the Leases it watches (undefined until it can tell)', async () => {
    expect(janitor.nodeLive('a')).toBeUndefined();
    await renew('a', clock);
    leader.held = false;
    await janitor.check();
    expect(janitor.nodeLive('a')).toBe(true);
    expect(janitor.nodeLive('never')).toBeUndefined();
    clock += 11_000;
    await janitor.check();
    expect(janitor.nodeLive('a')).toBe(false);
    expect(janitor.nodeLive('never')).toBe(false);
  });

  it('fails over the unfinished runs of a node whose Lease stayed unrenewed for its duration, and leaves a live node alone', async () => {
    await renew('dead', clock);
    await renew('alive', clock);
    const lost = await runOn('lost', 'dead');
    const retried = await runOn('retried', 'dead', { prompt: 'x', backoffLimit: 1 });
    const kept = await runOn('kept', 'alive');
    expect((await janitor.check())?.lostNodes).toEqual([]); // first look: every Lease gets a full duration
    clock += 11_000;
    await renew('alive', clock - 1_000);
    const result = await janitor.check();
    expect(result).toMatchObject({ lostNodes: ['dead'], failed: 1, retried: 1, conflicts: 0 });
    const l = (await store.get(lost)).status;
    expect(l).toMatchObject({ phase: 'Failed', node: 'dead' });
    expect(reasonOf(l)).toBe('NodeLost');
    const r = (await store.get(retried)).status;
    expect(r).toMatchObject({ phase: 'Pending', attempt: 2 });
    expect(r?.node).toBeUndefined();
    expect(r?.containerName).toBeUndefined();
    expect((await store.get(kept)).status?.phase).toBe('Running');
  });

  it('treats a node with no Lease at all as lost at its next rescan, once it has watched the Leases for a duration', async () => {
    janitor = new NodeJanitor({ store, leases, leader: { held: () => true }, leaseDurationSeconds: 10, rescanMs: 5_000, log: quiet, now: () => clock });
    const ref = await runOn('orphaned', 'never-leased');
    await janitor.check();
    expect((await store.get(ref)).status?.phase).toBe('Running');
    clock += 11_000;
    await janitor.check();
    expect(reasonOf((await store.get(ref)).status)).toBe('NodeLost');
  });

  it('observes while another agent is the leader, and acts only once it holds the role', async () => {
    await renew('dead', clock);
    const ref = await runOn('lost', 'dead');
    leader.held = false;
    expect(await janitor.check()).toBeUndefined();
    clock += 11_000;
    expect(await janitor.check()).toBeUndefined();
    expect((await store.get(ref)).status?.phase).toBe('Running');
    leader.held = true; // the old leader died: the dead Lease is already known to be still
    expect((await janitor.check())?.failed).toBe(1);
  });

  it('gives every Lease a full duration again after it could not read them (the API server was down)', async () => {
    await renew('n', clock);
    const ref = await runOn('kept', 'n');
    await janitor.check();
    leases.failWith = new Error('connection refused');
    clock += 30_000; // nobody could renew meanwhile
    await expect(janitor.check()).rejects.toThrow('connection refused');
    leases.failWith = undefined;
    expect((await janitor.check())?.failed ?? 0).toBe(0);
    expect((await store.get(ref)).status?.phase).toBe('Running');
    await renew('n', clock + 1_000); // the agent renews once it can
    clock += 11_000;
    expect((await janitor.check())?.failed ?? 0).toBe(0);
  });

  it('scans the runs of an expired Lease once, then again only after rescanMs', async () => {
    await renew('dead', clock);
    await runOn('lost', 'dead');
    await janitor.check();
    clock += 11_000;
    expect((await janitor.check())?.failed).toBe(1);
    expect(await janitor.check()).toBeUndefined();
    // The node comes back and loses its Lease again: a new renewTime is a new loss.
    await renew('dead', clock);
    await janitor.check();
    clock += 11_000;
    expect(await janitor.check()).toMatchObject({ lostNodes: ['dead'] });
  });
});
