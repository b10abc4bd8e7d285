import { describe, expect, it } from 'vitest';
import { newResource } from './object-rules.ts';
import type { Resource, StoreEvent } from './store.ts';
import { WatchFanout } from './watch-fanout.ts';

function object(name: string): Resource<unknown> {
  return newResource({ apiVersion: 'v1', kind: 'Thing', namespace: 'ns', name, labels: undefined, annotations: undefined, spec: { n: 1 }, resourceVersion: '1', creationTimestamp: 't' });
}

async function take(iterator: AsyncIterator<StoreEvent<unknown>>, count: number): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < count; i++) {
    const next = await iterator.next();
    if (next.done === true) break;
    seen.push(`${next.value.type} ${next.value.object.metadata.name}`);
  }
  return seen;
}

describe('WatchFanout', () => {
  it('starts with ADDED for the snapshot in list order, then gives every watcher every event in order', async () => {
    const fanout = new WatchFanout<unknown>();
    const controller = new AbortController();
    const first = fanout.subscribe([object('b'), object('a')], controller.signal)[Symbol.asyncIterator]();
    const second = fanout.subscribe([], controller.signal)[Symbol.asyncIterator]();
    fanout.publish({ type: 'MODIFIED', object: object('a') });
    fanout.publish({ type: 'DELETED', object: object('b') });
    expect(await take(first, 4)).toEqual(['ADDED a', 'ADDED b', 'MODIFIED a', 'DELETED b']);
    expect(await take(second, 2)).toEqual(['MODIFIED a', 'DELETED b']);
    controller.abort();
  });

  it('gives each watcher its own copy of the object', async () => {
    const fanout = new WatchFanout<unknown>();
    const controller = new AbortController();
    const first = fanout.subscribe([], controller.signal)[Symbol.asyncIterator]();
    const second = fanout.subscribe([], controller.signal)[Symbol.asyncIterator]();
    const published = object('a');
    fanout.publish({ type: 'ADDED', object: published });
    const a = await first.next();
    const b = await second.next();
    if (a.done === true || b.done === true) throw new Error('expected events');
    a.value.object.spec = 'changed';
    expect(b.value.object.spec).toEqual({ n: 1 });
    expect(published.spec).toEqual({ n: 1 });
    controller.abort();
  });

  it('ends a waiting watch when its signal aborts, on return(), and on endAll()', async () => {
    const fanout = new WatchFanout<unknown>();
    const controller = new AbortController();
    const aborted = fanout.subscribe([], controller.signal)[Symbol.asyncIterator]();
    const pending = aborted.next();
    controller.abort();
    expect((await pending).done).toBe(true);

    const returned = fanout.subscribe([object('a')], new AbortController().signal)[Symbol.asyncIterator]();
    await returned.return?.();
    expect((await returned.next()).done).toBe(true);

    const closed = fanout.subscribe([], new AbortController().signal)[Symbol.asyncIterator]();
    const waiting = closed.next();
    fanout.endAll();
    expect((await waiting).done).toBe(true);
    fanout.publish({ type: 'ADDED', object: object('late') });
    expect((await closed.next()).done).toBe(true);
  });

  it('ends at once for a signal that has already aborted', async () => {
    const fanout = new WatchFanout<unknown>();
    const watch = fanout.subscribe([object('a')], AbortSignal.abort())[Symbol.asyncIterator]();
    expect((await watch.next()).done).toBe(true);
  });

  it('keeps every event in order for a watcher that lags behind thousands of events, each a copy of what was published', async () => {
    const fanout = new WatchFanout<unknown>();
    const controller = new AbortController();
    const snapshot = Array.from({ length: 3000 }, (_, i) => object(`s${String(i).padStart(4, '0')}`));
    const watch = fanout.subscribe(snapshot, controller.signal)[Symbol.asyncIterator]();
    const seen = await take(watch, 2000);
    for (let i = 0; i < 2000; i++) fanout.publish({ type: 'MODIFIED', object: object(`m${i}`) });
    seen.push(...(await take(watch, 3000)));
    expect(seen).toHaveLength(5000);
    expect(seen[0]).toBe('ADDED s0000');
    expect(seen[2999]).toBe('ADDED s2999');
    expect(seen[3000]).toBe('MODIFIED m0');
    expect(seen[4999]).toBe('MODIFIED m1999');
    const published = object('x');
    fanout.publish({ type: 'MODIFIED', object: published });
    const next = await watch.next();
    expect(next.value?.object).toEqual(published);
    expect(next.value?.object).not.toBe(published);
    controller.abort();
  });
});
