import { describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { API_VERSION, KIND } from '../../../contract/apis/v1alpha1/index.ts';
import { MemoryStore } from '../../../contract/store/memory-store.ts';
import { StoreSessionHomes, latestHomeOf } from './session-homes.ts';

async function runWith(store: MemoryStore<AgentRunStatus>, name: string, namespace: string, status: Partial<AgentRunStatus>): Promise<string> {
  const run = await store.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace }, spec: { prompt: 'x' } });
  await store.updateStatus({ namespace, name }, { phase: 'Succeeded', ...status } as AgentRunStatus, run.metadata.resourceVersion);
  return run.metadata.uid;
}

describe('StoreSessionHomes', () => {
  it('finds the node of the latest run of the session in the namespace, leaving the asking run out', async () => {
    const store = new MemoryStore<AgentRunStatus>();
    await runWith(store, 'first', 'ns', { sessionId: 's1', node: 'a', startTime: '2026-12-01T10:00:00Z' });
    await runWith(store, 'later', 'ns', { sessionId: 's1', node: 'b', startTime: '2026-12-01T11:00:00Z' });
    const self = await runWith(store, 'self', 'ns', { sessionId: 's1', node: 'c', startTime: '2026-12-01T12:00:00Z' });
    await runWith(store, 'elsewhere', 'other', { sessionId: 's1', node: 'd', startTime: '2026-12-01T13:00:00Z' });
    await runWith(store, 'unclaimed', 'ns', { sessionId: 's1', startTime: '2026-12-01T14:00:00Z' });
    await runWith(store, 'another', 'ns', { sessionId: 's2', node: 'e', startTime: '2026-12-01T15:00:00Z' });
    const homes = new StoreSessionHomes({ store, sessions: { exists: async (id) => id === 'here' }, isLive: (node) => node === 'b' });
    expect(await homes.homeOf('ns', 's1', self)).toBe('b');
    expect(await homes.homeOf('ns', 'nobody', self)).toBeUndefined();
    expect(await homes.hasLocal('here')).toBe(true);
    expect(await homes.hasLocal('s1')).toBe(false);
    expect(homes.isLive('b')).toBe(true);
    expect(homes.shared).toBe(false);
  });

  it('reads no home from an empty list', () => {
    expect(latestHomeOf([], 's1', 'u')).toBeUndefined();
  });
});
