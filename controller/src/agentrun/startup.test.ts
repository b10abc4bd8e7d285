import { describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { MemoryStore } from '../../../contract/store/memory-store.ts';
import { Labels } from '../runner/names.ts';
import type { ManagedContainer } from '../runner/types.ts';
import { Slots } from './slots.ts';
import { seedSlots } from './startup.ts';

const quiet = { warn: () => undefined };

describe('seedSlots', () => {
  it('keeps the slots of running containers, removes orphans, and puts unfinished runs in line', async () => {
    const store = new MemoryStore<AgentRunStatus>();
    const create = (name: string, spec: unknown) => store.create({ apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: { name }, spec });
    const running = await create('running', { prompt: 'a' });
    await create('waiting', { prompt: 'b', priority: 5 });
    const done = await create('done', { prompt: 'c' });
    await store.updateStatus({ namespace: 'default', name: 'done' }, { phase: 'Succeeded' }, done.metadata.resourceVersion);
    await create('broken', { prompt: 42 });
    const containers: ManagedContainer[] = [
      { name: 'c-running', running: true, labels: { [Labels.uid]: running.metadata.uid } },
      { name: 'c-orphan', running: true, labels: { [Labels.uid]: 'gone' } },
    ];
    const stopped: string[] = [];
    const removed: string[] = [];
    const runner = {
      listManaged: async () => containers,
      stop: async (name: string) => void stopped.push(name),
      remove: async (name: string) => void removed.push(name),
    };
    const woken: string[][] = [];
    const slots = new Slots({ limit: 1, wake: (keys) => woken.push(keys) });
    const result = await seedSlots(store, runner, slots, quiet);
    expect(result).toEqual({ running: 1, orphansRemoved: 1, reassignedRemoved: 0, waiting: 2 });
    expect(stopped).toEqual(['c-orphan']);
    expect(removed).toEqual(['c-orphan']);
    expect(slots.running).toBe(1);
    // 'running' is running already; only 'waiting' is in line (done and broken are not).
    expect(slots.waiting).toBe(1);
    slots.release('default/running');
    expect(woken).toEqual([['default/waiting']]);
  });
});
