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
  janitor = new NodeJanitor({ store, leases, leader: { held: () => leader.held }, log: quiet, now: () => clock });
});

describe('NodeJanitor', () => {
  it('fails over the unfinished runs of a node whose Lease expired, and leaves a live node alone', async () => {
    await renew('dead', clock - 11_000);
    await renew('alive', clock - 1_000);
    const lost = await runOn('lost', 'dead');
    const retried = await runOn('retried', 'dead', { prompt: 'x', backoffLimit: 1 });
    const kept = await runOn('kept', 'alive');
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

  it('treats a node with no Lease at all as lost', async () => {
    const ref = await runOn('orphaned', 'never-leased');
    await janitor.check();
    expect(reasonOf((await store.get(ref)).status)).toBe('NodeLost');
  });

  it('does nothing unless it holds the janitor role', async () => {
    await renew('dead', clock - 11_000);
    const ref = await runOn('lost', 'dead');
    leader.held = false;
    expect(await janitor.check()).toBeUndefined();
    expect((await store.get(ref)).status?.phase).toBe('Running');
  });

  it('scans the runs of an expired Lease once, then again only after rescanMs', async () => {
    await renew('dead', clock - 11_000);
    await runOn('lost', 'dead');
    expect((await janitor.check())?.failed).toBe(1);
    expect(await janitor.check()).toBeUndefined();
    // The node comes back and loses its Lease again: a new renewTime is a new loss.
    await renew('dead', clock);
    clock += 11_000;
    expect(await janitor.check()).toMatchObject({ lostNodes: ['dead'] });
  });
});
