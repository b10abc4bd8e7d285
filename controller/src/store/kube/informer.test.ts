import { describe, expect, it } from 'vitest';
import type { StoreEvent } from '../../../../contract/store/store.ts';
import { FakeLogger } from '../../reconcile/fake-logger.ts';
import { informerEvents } from './informer.ts';
import type { InformerOptions, ListWatchSource, WatchHandlers } from './informer.ts';
import { parseResource } from './kube-object.ts';

interface FakeWatch {
  resourceVersion: string;
  handlers: WatchHandlers;
  stopped: boolean;
}

/** A scriptable API server: objects by name, a resourceVersion counter, the watches opened. */
class FakeSource implements ListWatchSource {
  readonly objects = new Map<string, Record<string, unknown>>();
  readonly watches: FakeWatch[] = [];
  lists = 0;
  failLists = 0;
  #rv = 0;

  put(name: string, uid = `uid-${name}`): Record<string, unknown> {
    this.#rv++;
    const object = {
      apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', spec: {},
      metadata: { name, namespace: 'ns', uid, generation: 1, resourceVersion: String(this.#rv), creationTimestamp: '2026-12-07T00:00:00Z' },
    };
    this.objects.set(name, object);
    return object;
  }

  async list(): Promise<{ resourceVersion: string; items: unknown[] }> {
    this.lists++;
    if (this.failLists > 0) {
      this.failLists--;
      throw new Error('connection refused');
    }
    return { resourceVersion: String(this.#rv), items: [...this.objects.values()].map((o) => structuredClone(o)) };
  }

  async watch(resourceVersion: string, handlers: WatchHandlers): Promise<() => void> {
    const watch: FakeWatch = { resourceVersion, handlers, stopped: false };
    this.watches.push(watch);
    return () => {
      watch.stopped = true;
    };
  }

  get current(): FakeWatch {
    const last = this.watches.at(-1);
    if (last === undefined) throw new Error('no watch yet');
    return last;
  }
}

function start(source: FakeSource, extra: Partial<InformerOptions<unknown>> = {}): { events: string[]; raw: StoreEvent<unknown>[]; controller: AbortController; log: FakeLogger; ended: Promise<void> } {
  const log = new FakeLogger();
  const controller = new AbortController();
  const events: string[] = [];
  const raw: StoreEvent<unknown>[] = [];
  const options: InformerOptions<unknown> = {
    source, log, parse: (value) => parseResource(value, (s) => s), staleAfterMs: 60_000, backoff: () => 1, healthyAfterMs: 60_000, ...extra,
  };
  const ended = (async () => {
    for await (const event of informerEvents(options, controller.signal)) {
      raw.push(event);
      events.push(`${event.type} ${event.object.metadata.name}@${event.object.metadata.resourceVersion}`);
    }
  })();
  return { events, raw, controller, log, ended };
}

describe('informerEvents', () => {
  it('lists first (ADDED, sorted), watches from the list resourceVersion, then passes events through', async () => {
    const source = new FakeSource();
    source.put('b');
    source.put('a');
    const informer = start(source);
    await expect.poll(() => informer.events).toEqual(['ADDED b@1', 'ADDED a@2'].sort((x, y) => x.localeCompare(y)));
    await expect.poll(() => source.watches.length).toBe(1);
    expect(source.current.resourceVersion).toBe('2');
    source.current.handlers.onEvent('MODIFIED', source.put('a'));
    source.current.handlers.onEvent('BOOKMARK', { metadata: { resourceVersion: '3' } });
    source.current.handlers.onEvent('DELETED', source.objects.get('b'));
    await expect.poll(() => informer.events).toEqual(['ADDED a@2', 'ADDED b@1', 'MODIFIED a@3', 'DELETED b@1']);
    informer.controller.abort();
    await informer.ended;
    expect(source.current.stopped).toBe(true);
  });

  it('relists after a watch error and emits only what changed while disconnected', async () => {
    const source = new FakeSource();
    source.put('a');
    source.put('b');
    source.put('c');
    const informer = start(source);
    await expect.poll(() => source.watches.length).toBe(1);
    // While the connection is down: a changes, b goes, d comes; c stays as it was.
    source.put('a');
    source.objects.delete('b');
    source.put('d');
    source.current.handlers.onEnd(new TypeError('fetch failed'));
    await expect.poll(() => source.watches.length).toBe(2);
    expect(source.lists).toBe(2);
    await expect.poll(() => informer.events).toEqual(['ADDED a@1', 'ADDED b@2', 'ADDED c@3', 'MODIFIED a@4', 'DELETED b@2', 'ADDED d@5']);
    expect(source.watches[0]?.stopped).toBe(true);
    expect(source.current.resourceVersion).toBe('5');
    expect(informer.log.withMessage('watch failed')).toHaveLength(1);
    informer.controller.abort();
    await informer.ended;
  });

  it('relists after a clean close and after an ERROR event (410 Expired)', async () => {
    const source = new FakeSource();
    source.put('a');
    const informer = start(source);
    await expect.poll(() => source.watches.length).toBe(1);
    source.current.handlers.onEnd(null);
    await expect.poll(() => source.watches.length).toBe(2);
    source.put('a');
    source.current.handlers.onEvent('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' });
    await expect.poll(() => source.watches.length).toBe(3);
    await expect.poll(() => informer.events).toEqual(['ADDED a@1', 'MODIFIED a@2']);
    expect(informer.log.withMessage('watch ended').map((l) => l.fields['reason'])).toEqual(['closed', 'expired']);
    informer.controller.abort();
    await informer.ended;
  });

  it('restarts a watch that stays silent longer than staleAfterMs', async () => {
    const source = new FakeSource();
    source.put('a');
    const informer = start(source, { staleAfterMs: 40 });
    await expect.poll(() => source.watches.length).toBeGreaterThanOrEqual(2);
    expect(source.watches[0]?.stopped).toBe(true);
    expect(informer.log.withMessage('watch failed')[0]?.fields['reason']).toBe('stale');
    expect(informer.events).toEqual(['ADDED a@1']);
    informer.controller.abort();
    await informer.ended;
  });

  it('retries a failing list with backoff, counting attempts', async () => {
    const source = new FakeSource();
    source.put('a');
    source.failLists = 2;
    const delays: number[] = [];
    const informer = start(source, { backoff: (attempt) => { delays.push(attempt); return 1; } });
    await expect.poll(() => informer.events).toEqual(['ADDED a@1']);
    expect(delays).toEqual([1, 2]);
    expect(source.lists).toBe(3);
    informer.controller.abort();
    await informer.ended;
  });

  it('gives up on a list that hangs and lists again', async () => {
    const source = new FakeSource();
    source.put('a');
    const list = source.list.bind(source);
    let calls = 0;
    source.list = async () => (++calls === 1 ? new Promise<never>(() => undefined) : list());
    const informer = start(source, { staleAfterMs: 40 });
    await expect.poll(() => informer.events).toEqual(['ADDED a@1']);
    expect(informer.log.withMessage('watch failed')[0]?.fields['err']).toBeInstanceOf(Error);
    informer.controller.abort();
    await informer.ended;
  });

  it('skips an unreadable object with a warning, and gives each consumer its own copy', async () => {
    const source = new FakeSource();
    source.put('a');
    source.objects.set('broken', { kind: 'AgentRun', metadata: { name: 'broken', namespace: 'ns' } });
    const informer = start(source);
    await expect.poll(() => informer.events).toEqual(['ADDED a@1']);
    expect(informer.log.withMessage('unreadable object skipped')[0]?.fields['object']).toBe('ns/broken');
    const first = informer.raw[0];
    if (first !== undefined) first.object.metadata.resourceVersion = 'mutated';
    source.current.handlers.onEnd(new Error('reset'));
    await expect.poll(() => source.watches.length).toBe(2);
    expect(informer.events).toEqual(['ADDED a@1']); // the cache was not changed through the event
    informer.controller.abort();
    await informer.ended;
  });

  it('ends when the consumer stops iterating, stopping the watch', async () => {
    const source = new FakeSource();
    source.put('a');
    const controller = new AbortController();
    const options: InformerOptions<unknown> = {
      source, log: new FakeLogger(), parse: (value) => parseResource(value, (s) => s), staleAfterMs: 60_000, backoff: () => 1, healthyAfterMs: 60_000,
    };
    for await (const event of informerEvents(options, controller.signal)) {
      expect(event.type).toBe('ADDED');
      break;
    }
    await expect.poll(() => source.watches.every((w) => w.stopped)).toBe(true);
  });
});
