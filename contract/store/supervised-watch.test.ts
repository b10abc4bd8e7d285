import { describe, expect, it } from 'vitest';
import type { StoreEvent } from './store.ts';
import { abortableSleep } from '../sleep.ts';
import { superviseWatch } from './supervised-watch.ts';
import type { WatchRestart } from './supervised-watch.ts';

function event(name: string): StoreEvent<unknown> {
  return { type: 'ADDED', object: { apiVersion: 'v1', kind: 'K', metadata: { name, namespace: 'ns', uid: name, generation: 1, resourceVersion: '1', creationTimestamp: '' }, spec: {} } };
}

describe('superviseWatch', () => {
  it('re-opens a watch that fails or ends, with growing jittered delays, until the signal aborts', async () => {
    const abort = new AbortController();
    const seen: string[] = [];
    const restarts: WatchRestart[] = [];
    const slept: number[] = [];
    let opened = 0;
    const source = {
      async *watch(): AsyncIterable<StoreEvent<unknown>> {
        opened += 1;
        yield event(`w${opened}`);
        if (opened === 1) throw new Error('connection reset');
        if (opened === 3) abort.abort();
      },
    };
    const warnings: string[] = [];
    await superviseWatch({
      source,
      onEvent: (e) => seen.push(e.object.metadata.name),
      signal: abort.signal,
      log: { warn: (_fields, msg) => warnings.push(msg) },
      backoff: { jitter: 'none' },
      now: () => 0,
      sleep: async (ms) => {
        slept.push(ms);
      },
      onRestart: (r) => restarts.push(r),
    });
    expect(seen).toEqual(['w1', 'w2', 'w3']);
    expect(warnings).toEqual(['watch failed', 'watch ended']);
    expect(slept).toEqual([1_000, 2_000]);
    expect(restarts.map((r) => r.attempt)).toEqual([1, 2]);
    expect(restarts[0]?.err).toBeInstanceOf(Error);
    expect(restarts[1]?.err).toBeUndefined();
  });

  it('starts from the base delay again after a healthy watch, and survives a throwing handler', async () => {
    const abort = new AbortController();
    let clock = 0;
    let opened = 0;
    const slept: number[] = [];
    const warnings: string[] = [];
    await superviseWatch({
      source: {
        async *watch(): AsyncIterable<StoreEvent<unknown>> {
          opened += 1;
          yield event('x');
          if (opened === 2) clock += 120_000; // this one lived long
          if (opened === 4) abort.abort();
        },
      },
      onEvent: () => {
        throw new Error('handler bug');
      },
      signal: abort.signal,
      log: { warn: (_fields, msg) => warnings.push(msg) },
      backoff: { jitter: 'none' },
      now: () => clock,
      sleep: async (ms) => {
        slept.push(ms);
      },
    });
    expect(slept).toEqual([1_000, 1_000, 2_000]);
    expect(warnings.filter((w) => w === 'watch event handler failed')).toHaveLength(4);
  });

  it('abortableSleep resolves early, without throwing, when its signal aborts', async () => {
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 10);
    // A minute-long sleep that did not end early would outlast the test's timeout.
    await expect(abortableSleep(60_000, abort.signal)).resolves.toBeUndefined();
  });
});
