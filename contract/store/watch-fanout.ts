// The watch fan-out both stores use: every watcher gets every event, in write order, each with
// its own copy of the object, from an unbounded in-memory queue (docs/file-store.md, "Watch").
// The queues hold the store's own objects and each is copied when its watcher takes it: a
// watch that starts over 10,000 runs (every consumer's replay) or lags behind a burst of writes
// holds references, not 10,000 copies. That relies on what both stores do: a committed object is
// never changed in place; a write stores a new object.

import { compareObjects, copyOf } from './object-list.ts';
import type { Resource, StoreEvent } from './store.ts';

interface Watcher<S> {
  /** Events still to take, from `head` on (taken slots are cleared; the array is reset once drained). */
  queue: (StoreEvent<S> | undefined)[];
  head: number;
  wake: (() => void) | undefined;
  done: boolean;
  signal: AbortSignal;
  onAbort: () => void;
}

/**
 * The watchers of one store. A store calls publish() after each committed write and
 * subscribe() from watch(); endAll() is for a store that closes.
 */
export class WatchFanout<S> {
  readonly #watchers = new Set<Watcher<S>>();

  /**
   * Queues the event for every watcher. Each watcher gets its own copy when it takes the event, so
   * a consumer mutating its event cannot change what another one sees; `event.object` must not be
   * changed after this call (the store's committed object).
   */
  publish(event: StoreEvent<S>): void {
    for (const watcher of this.#watchers) {
      watcher.queue.push(event);
      watcher.wake?.();
    }
  }

  /**
   * A watch that starts with an ADDED for every object of `snapshot` (sorted like list()) and
   * then yields every published event until `signal` aborts or endAll(). Snapshot and
   * subscription happen in the same synchronous step, so no write falls between.
   */
  subscribe(snapshot: Iterable<Resource<S>>, signal: AbortSignal): AsyncIterable<StoreEvent<S>> {
    const initial = [...snapshot]
      .sort(compareObjects)
      .map((object): StoreEvent<S> => ({ type: 'ADDED', object }));
    const watcher: Watcher<S> = { queue: initial, head: 0, wake: undefined, done: signal.aborted, signal, onAbort: () => this.#end(watcher) };
    if (!signal.aborted) {
      this.#watchers.add(watcher);
      signal.addEventListener('abort', watcher.onAbort, { once: true });
    }
    const iterator: AsyncIterator<StoreEvent<S>> = {
      async next(): Promise<IteratorResult<StoreEvent<S>>> {
        for (;;) {
          if (watcher.done) return { done: true, value: undefined };
          const event = watcher.queue[watcher.head];
          if (event !== undefined) {
            watcher.queue[watcher.head] = undefined;
            watcher.head += 1;
            if (watcher.head === watcher.queue.length) {
              watcher.queue.length = 0;
              watcher.head = 0;
            } else if (watcher.head >= 1024 && watcher.head * 2 >= watcher.queue.length) {
              watcher.queue.splice(0, watcher.head); // a consumer that never quite catches up
              watcher.head = 0;
            }
            return { done: false, value: { type: event.type, object: copyOf(event.object) } };
          }
          await new Promise<void>((wake) => {
            watcher.wake = wake;
          });
          watcher.wake = undefined;
        }
      },
      return: async (): Promise<IteratorResult<StoreEvent<S>>> => {
        this.#end(watcher);
        return { done: true, value: undefined };
      },
    };
    return { [Symbol.asyncIterator]: () => iterator };
  }

  /** Ends every watch (their loops finish); for a store that closes. */
  endAll(): void {
    for (const watcher of [...this.#watchers]) this.#end(watcher);
  }

  #end(watcher: Watcher<S>): void {
    watcher.done = true;
    this.#watchers.delete(watcher);
    watcher.signal.removeEventListener('abort', watcher.onAbort);
    watcher.wake?.();
  }
}
