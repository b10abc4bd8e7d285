// The watch fan-out both stores use: every watcher gets every event, in write order, each with
// its own copy of the object, from an unbounded in-memory queue (docs/file-store.md, "Watch").

import { compareObjects, copyOf } from './object-list.ts';
import type { Resource, StoreEvent } from './store.ts';

interface Watcher<S> {
  queue: StoreEvent<S>[];
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

  /** Queues the event for every watcher. One copy per watcher: a consumer mutating its event cannot change what another one sees. */
  publish(event: StoreEvent<S>): void {
    for (const watcher of this.#watchers) {
      watcher.queue.push({ type: event.type, object: copyOf(event.object) });
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
      .map((object): StoreEvent<S> => ({ type: 'ADDED', object: copyOf(object) }));
    const watcher: Watcher<S> = { queue: initial, wake: undefined, done: signal.aborted, signal, onAbort: () => this.#end(watcher) };
    if (!signal.aborted) {
      this.#watchers.add(watcher);
      signal.addEventListener('abort', watcher.onAbort, { once: true });
    }
    const iterator: AsyncIterator<StoreEvent<S>> = {
      async next(): Promise<IteratorResult<StoreEvent<S>>> {
        for (;;) {
          if (watcher.done) return { done: true, value: undefined };
          const event = watcher.queue.shift();
          if (event !== undefined) return { done: false, value: event };
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
