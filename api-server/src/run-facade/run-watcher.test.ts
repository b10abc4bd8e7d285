import { afterEach, describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { conditionsFor } from '../../../contract/apis/v1alpha1/index.ts';
import { MemoryStore } from '../../../contract/store/memory-store.ts';
import type { RunStore, StoredRun } from '../../../contract/ports.ts';
import { RunWatcher } from './run-watcher.ts';
import type { RunEvent } from './run-watcher.ts';

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

let watcher: RunWatcher | undefined;
afterEach(async () => {
  await watcher?.stop();
  watcher = undefined;
});

async function newRun(store: MemoryStore<AgentRunStatus>, name = 'run-0000000000000001'): Promise<StoredRun> {
  return store.create({ apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: { name, namespace: 'default' }, spec: { prompt: 'x' } });
}

async function finish(store: MemoryStore<AgentRunStatus>, run: StoredRun, phase: 'Succeeded' | 'Running' = 'Succeeded'): Promise<StoredRun> {
  const current = await store.get(run.metadata);
  return store.updateStatus(current.metadata, { phase, conditions: conditionsFor(undefined, phase, phase, undefined, 1, new Date().toISOString()) }, current.metadata.resourceVersion);
}

function start(runs: RunStore, options: { resyncMs?: number; restartDelayMs?: number } = {}): RunWatcher {
  watcher = new RunWatcher({ runs, log: quiet, ...options });
  watcher.start();
  return watcher;
}

describe('RunWatcher.waitUntilFinished', () => {
  it('resolves with the finished run when its status turns terminal', async () => {
    const store = new MemoryStore<AgentRunStatus>();
    const run = await newRun(store);
    const w = start(store);
    const waiting = w.waitUntilFinished(run.metadata, { signal: new AbortController().signal, uid: run.metadata.uid });
    await finish(store, run, 'Running');
    await finish(store, run);
    expect((await waiting)?.status?.phase).toBe('Succeeded');
  });

  it('resolves at once for a run that is already finished', async () => {
    const store = new MemoryStore<AgentRunStatus>();
    const run = await newRun(store);
    await finish(store, run);
    const w = new RunWatcher({ runs: store, log: quiet }); // not even watching: the first get answers
    expect((await w.waitUntilFinished(run.metadata, { signal: new AbortController().signal }))?.status?.phase).toBe('Succeeded');
  });

  it('resolves undefined when the run is deleted, missing, or its name now belongs to another run', async () => {
    const store = new MemoryStore<AgentRunStatus>();
    const w = start(store);
    const run = await newRun(store);
    const deleted = w.waitUntilFinished(run.metadata, { signal: new AbortController().signal, uid: run.metadata.uid });
    await store.delete(run.metadata);
    expect(await deleted).toBeUndefined();
    expect(await w.waitUntilFinished({ namespace: 'default', name: 'run-ffffffffffffffff' }, { signal: new AbortController().signal })).toBeUndefined();
    const reborn = await newRun(store);
    expect(await w.waitUntilFinished(reborn.metadata, { signal: new AbortController().signal, uid: 'an-older-uid' })).toBeUndefined();
  });

  it('rejects with the signal\'s reason when it aborts first', async () => {
    const store = new MemoryStore<AgentRunStatus>();
    const run = await newRun(store);
    const w = start(store);
    const abort = new AbortController();
    const waiting = w.waitUntilFinished(run.metadata, { signal: abort.signal });
    abort.abort(new Error('client gone'));
    await expect(waiting).rejects.toThrow('client gone');
    await expect(w.waitUntilFinished(run.metadata, { signal: AbortSignal.abort(new Error('already')) })).rejects.toThrow('already');
  });

  it('still finds the end through its resync read when the watch delivers nothing', async () => {
    const store = new MemoryStore<AgentRunStatus>();
    const run = await newRun(store);
    // A watch that ends at once without an event (and is not re-opened for a minute).
    const silent: RunStore = { ...bind(store), watch: () => ({ [Symbol.asyncIterator]: () => ({ next: async () => ({ done: true as const, value: undefined }) }) }) };
    const w = new RunWatcher({ runs: silent, log: quiet, resyncMs: 20, restartDelayMs: 60_000 });
    watcher = w;
    w.start();
    const waiting = w.waitUntilFinished(run.metadata, { signal: new AbortController().signal });
    await finish(store, run);
    expect((await waiting)?.status?.phase).toBe('Succeeded');
  });
});

describe('RunWatcher events', () => {
  it('re-opens a watch that failed, and hands every event to listeners even when one throws', async () => {
    const store = new MemoryStore<AgentRunStatus>();
    let opened = 0;
    const flaky: RunStore = {
      ...bind(store),
      watch(signal) {
        opened += 1;
        if (opened === 1) {
          return {
            [Symbol.asyncIterator]: () => ({
              next: () => Promise.reject(new Error('watch broke')),
            }),
          };
        }
        return store.watch(signal);
      },
    };
    const w = start(flaky, { restartDelayMs: 5 });
    const seen: RunEvent[] = [];
    w.onEvent(() => {
      throw new Error('a bad listener');
    });
    const off = w.onEvent((event) => seen.push(event));
    await newRun(store);
    await expect.poll(() => seen.length).toBeGreaterThanOrEqual(1);
    expect(opened).toBe(2);
    off();
    await newRun(store, 'run-0000000000000002');
    const count = seen.length;
    await newRun(store, 'run-0000000000000003');
    expect(seen.length).toBe(count);
  });
});

/** The store's methods as a plain object (so a test can replace one of them). */
function bind(store: MemoryStore<AgentRunStatus>): RunStore {
  return {
    list: (o) => store.list(o),
    listPage: (o) => store.listPage(o),
    get: (r) => store.get(r),
    create: (r) => store.create(r),
    patchSpec: (r, p, v) => store.patchSpec(r, p, v),
    delete: (r) => store.delete(r),
    watch: (s) => store.watch(s),
  };
}
