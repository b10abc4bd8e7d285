import { describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { MemoryStore } from '../../../contract/store/memory-store.ts';
import { Janitor } from './janitor.ts';

describe('Janitor', () => {
  it('sweeps with the uids of the runs still in the store, the clock and the retention', async () => {
    const store = new MemoryStore<AgentRunStatus>();
    const live = await store.create({ apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: { name: 'live' }, spec: { prompt: 'x' } });
    const calls: Array<{ live: string[]; now: number; retention: number }> = [];
    const infos: Array<Record<string, unknown>> = [];
    const janitor = new Janitor({
      store,
      logs: {
        sweep: async (uids, now, retention) => {
          calls.push({ live: [...uids], now, retention });
          return ['/logs/default/old/uid-1'];
        },
      },
      log: { info: (fields) => void infos.push(fields), warn: () => undefined },
      retentionMs: 5_000,
      now: () => 1_000,
    });
    await janitor.start();
    janitor.stop();
    expect(calls).toEqual([{ live: [live.metadata.uid], now: 1_000, retention: 5_000 }]);
    expect(infos).toEqual([{ count: 1 }]);
  });
});
