import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkQueue } from './queue.ts';
import type { Clock } from './queue.ts';

// Only timers and Date are faked; setImmediate stays real so settle() can flush promise chains.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Starts a get() and reports whether it has resolved yet, without blocking the test. */
function track(queue: WorkQueue): { readonly settled: boolean; readonly key: string | undefined; promise: Promise<string | undefined> } {
  const state = { settled: false, key: undefined as string | undefined };
  const promise = queue.get().then((key) => {
    state.settled = true;
    state.key = key;
    return key;
  });
  return {
    get settled() {
      return state.settled;
    },
    get key() {
      return state.key;
    },
    promise,
  };
}

describe('WorkQueue', () => {
  it('queues a key once however often it is added', async () => {
    const queue = new WorkQueue();
    queue.add('ns/a');
    queue.add('ns/a');
    queue.add('ns/a');
    expect(queue.stats()).toEqual({ ready: 1, delayed: 0, inFlight: 0 });
    expect(await queue.get()).toBe('ns/a');
    expect(queue.stats()).toEqual({ ready: 0, delayed: 0, inFlight: 1 });
  });

  it('hands keys out in the order they were added', async () => {
    const queue = new WorkQueue({ concurrency: 3 });
    for (const key of ['c', 'a', 'b']) queue.add(key);
    expect([await queue.get(), await queue.get(), await queue.get()]).toEqual(['c', 'a', 'b']);
  });

  it('never hands out a key in flight, and hands it out once more after done when re-added meanwhile', async () => {
    const queue = new WorkQueue({ concurrency: 2 });
    queue.add('a');
    expect(await queue.get()).toBe('a');
    queue.add('a');
    queue.add('a');
    const second = track(queue);
    await settle();
    expect(second.settled).toBe(false);
    expect(queue.stats()).toEqual({ ready: 1, delayed: 0, inFlight: 1 });

    queue.done('a');
    expect(await second.promise).toBe('a');
    queue.done('a');
    expect(queue.stats()).toEqual({ ready: 0, delayed: 0, inFlight: 0 });
  });

  it('keeps at most `concurrency` keys in flight', async () => {
    const queue = new WorkQueue({ concurrency: 2 });
    for (const key of ['a', 'b', 'c']) queue.add(key);
    expect(await queue.get()).toBe('a');
    expect(await queue.get()).toBe('b');
    const third = track(queue);
    await settle();
    expect(third.settled).toBe(false);
    queue.done('a');
    expect(await third.promise).toBe('c');
  });

  it('makes a delayed key due only once its delay has passed', async () => {
    const queue = new WorkQueue();
    queue.addAfter('a', 1_000);
    const got = track(queue);
    await vi.advanceTimersByTimeAsync(999);
    expect(got.settled).toBe(false);
    expect(queue.stats()).toEqual({ ready: 0, delayed: 1, inFlight: 0 });
    await vi.advanceTimersByTimeAsync(1);
    expect(got.key).toBe('a');
  });

  it('keeps the earliest pending time when a key is added after different delays', async () => {
    const queue = new WorkQueue();
    queue.addAfter('sooner-second', 5_000);
    queue.addAfter('sooner-second', 100);
    queue.addAfter('sooner-first', 100);
    queue.addAfter('sooner-first', 5_000);
    expect(queue.stats().delayed).toBe(2);
    await vi.advanceTimersByTimeAsync(100);
    expect(queue.stats()).toEqual({ ready: 2, delayed: 0, inFlight: 0 });
    expect(await queue.get()).toBe('sooner-second');
    queue.done('sooner-second');
    expect(await queue.get()).toBe('sooner-first');
    queue.done('sooner-first');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(queue.stats()).toEqual({ ready: 0, delayed: 0, inFlight: 0 });
  });

  it('lets an immediate add supersede a pending delayed add of the same key', async () => {
    const queue = new WorkQueue();
    queue.addAfter('a', 1_000);
    queue.add('a');
    expect(queue.stats()).toEqual({ ready: 1, delayed: 0, inFlight: 0 });
    expect(await queue.get()).toBe('a');
    queue.done('a');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(queue.stats().ready).toBe(0);
  });

  it('ignores a delayed add of a key that is already due', () => {
    const queue = new WorkQueue();
    queue.add('a');
    queue.addAfter('a', 1_000);
    expect(queue.stats()).toEqual({ ready: 1, delayed: 0, inFlight: 0 });
  });

  it('treats a delay of zero or less as an immediate add', () => {
    const queue = new WorkQueue();
    queue.addAfter('a', 0);
    queue.addAfter('b', -5);
    queue.addAfter('c', Number.NaN);
    expect(queue.stats()).toEqual({ ready: 3, delayed: 0, inFlight: 0 });
  });

  it('holds a delayed key that comes due while in flight until it is done', async () => {
    const queue = new WorkQueue();
    queue.add('a');
    expect(await queue.get()).toBe('a');
    queue.addAfter('a', 100);
    await vi.advanceTimersByTimeAsync(100);
    const again = track(queue);
    await settle();
    expect(again.settled).toBe(false);
    expect(queue.stats()).toEqual({ ready: 1, delayed: 0, inFlight: 1 });
    queue.done('a');
    expect(await again.promise).toBe('a');
  });

  it('fires delays longer than a Node timer can hold at the right time', async () => {
    const queue = new WorkQueue();
    const thirtyDays = 30 * 24 * 3_600_000;
    queue.addAfter('a', thirtyDays);
    await vi.advanceTimersByTimeAsync(thirtyDays - 1);
    expect(queue.stats()).toEqual({ ready: 0, delayed: 1, inFlight: 0 });
    await vi.advanceTimersByTimeAsync(1);
    expect(queue.stats()).toEqual({ ready: 1, delayed: 0, inFlight: 0 });
  });

  it('stays correct when one key is rescheduled many times', async () => {
    const queue = new WorkQueue();
    for (let ms = 10_000; ms > 0; ms -= 10) queue.addAfter('a', ms);
    queue.addAfter('b', 20);
    expect(queue.stats().delayed).toBe(2);
    await vi.advanceTimersByTimeAsync(10);
    expect(await queue.get()).toBe('a');
    await vi.advanceTimersByTimeAsync(10);
    expect(queue.stats()).toEqual({ ready: 1, delayed: 0, inFlight: 1 });
  });

  it('hands out higher priorities first, equal priorities in order, and raises a re-added key', async () => {
    const queue = new WorkQueue();
    queue.add('resync-1', { priority: -100 });
    queue.add('resync-2', { priority: -100 });
    queue.add('event-1');
    queue.add('event-2');
    queue.add('resync-2', { priority: 0 });
    queue.add('event-1', { priority: -100 });
    const order: Array<string | undefined> = [];
    for (let i = 0; i < 4; i++) {
      const key = await queue.get();
      order.push(key);
      if (key !== undefined) queue.done(key);
    }
    expect(order).toEqual(['event-1', 'event-2', 'resync-2', 'resync-1']);
  });

  it('counts consecutive failures per key until forget', () => {
    const queue = new WorkQueue();
    expect(queue.failures('a')).toBe(0);
    expect(queue.recordFailure('a')).toBe(1);
    expect(queue.recordFailure('a')).toBe(2);
    expect(queue.recordFailure('b')).toBe(1);
    queue.forget('a');
    expect(queue.failures('a')).toBe(0);
    expect(queue.failures('b')).toBe(1);
  });

  it('stops handing out on shutdown, ignores later adds and resolves once in-flight keys are done', async () => {
    const queue = new WorkQueue({ concurrency: 2 });
    queue.add('a');
    expect(await queue.get()).toBe('a');
    queue.add('b');
    queue.addAfter('c', 100);
    const waiting = track(queue);
    await settle();
    // 'b' was handed to the waiting get(); a further get() has nothing left.
    expect(waiting.key).toBe('b');
    const idle = track(queue);

    const drained = queue.shutdown();
    expect(await idle.promise).toBeUndefined();
    expect(await queue.get()).toBeUndefined();
    queue.add('d');
    queue.done('a');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(queue.stats()).toEqual({ ready: 0, delayed: 0, inFlight: 1 });

    let result: boolean | undefined;
    void drained.then((value) => (result = value));
    await settle();
    expect(result).toBeUndefined();
    queue.done('b');
    expect(await drained).toBe(true);
    expect(queue.isShutDown).toBe(true);
  });

  it('gives up draining at the deadline and says so', async () => {
    const queue = new WorkQueue();
    queue.add('stuck');
    expect(await queue.get()).toBe('stuck');
    const drained = queue.shutdown({ drainMs: 5_000 });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await drained).toBe(false);
  });

  it('drains at once when nothing is in flight', async () => {
    const queue = new WorkQueue();
    queue.add('never');
    expect(await queue.shutdown({ drainMs: 5_000 })).toBe(true);
  });

  it('runs on an injected clock without global timers', async () => {
    vi.useRealTimers();
    const clock = new ManualClock();
    const queue = new WorkQueue({ clock });
    queue.addAfter('a', 300);
    clock.advance(299);
    expect(queue.stats().ready).toBe(0);
    clock.advance(1);
    expect(await queue.get()).toBe('a');
  });

  it('tells how long each key waited from due to handed out, and counts every add', async () => {
    vi.useRealTimers();
    const clock = new ManualClock();
    const waits: number[] = [];
    const queue = new WorkQueue({ clock, onWait: (ms) => waits.push(ms) });
    queue.add('a');
    queue.add('a'); // already due: the wait counts from the first
    clock.advance(40);
    queue.addAfter('b', 100);
    expect(await queue.get()).toBe('a');
    queue.done('a');
    clock.advance(100); // b due now
    clock.advance(7);
    expect(await queue.get()).toBe('b');
    expect(waits).toEqual([40, 7]);
    expect(queue.adds).toBe(3);
  });

  it('rejects a concurrency that is not a whole number of at least 1', () => {
    expect(() => new WorkQueue({ concurrency: 0 })).toThrow(/concurrency must be an integer >= 1, got 0/);
    expect(() => new WorkQueue({ concurrency: 1.5 })).toThrow(RangeError);
  });
});

/** A hand-driven clock: timers run only inside advance(). */
class ManualClock implements Clock {
  #now = 0;
  #timers: Array<{ at: number; callback: () => void }> = [];

  now(): number {
    return this.#now;
  }

  schedule(callback: () => void, ms: number): () => void {
    const timer = { at: this.#now + ms, callback };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  advance(ms: number): void {
    this.#now += ms;
    for (let due = this.#nextDue(); due !== undefined; due = this.#nextDue()) {
      this.#timers = this.#timers.filter((t) => t !== due);
      due.callback();
    }
  }

  #nextDue(): { at: number; callback: () => void } | undefined {
    return this.#timers.filter((t) => t.at <= this.#now).sort((a, b) => a.at - b.at)[0];
  }
}
