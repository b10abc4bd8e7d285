// A keyed work queue in the shape of client-go's: the controller puts keys in (never events),
// workers take keys out. It guarantees what a level-based loop needs: a key waits in the queue
// at most once however often it is added, a key is never handed to two workers at once (added
// again while in flight, it is handed out once more after done()), and at most `concurrency`
// keys are in flight. Delayed adds keep one pending time per key, the earliest. Imports nothing.

/** Time and timers, injectable so tests drive time explicitly. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `callback` once after `ms`; the returned function cancels it. */
  schedule(callback: () => void, ms: number): () => void;
}

/** Node's setTimeout delays above this fire after 1 ms, so longer waits are re-armed in steps. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Date.now and setTimeout, looked up at call time so test fake timers apply. */
export const systemClock: Clock = {
  now: () => Date.now(),
  schedule: (callback, ms) => {
    const timer = setTimeout(callback, Math.min(Math.max(0, ms), MAX_TIMER_MS));
    return () => clearTimeout(timer);
  },
};

/** Options of one add; every field is optional. */
export interface AddOptions {
  /**
   * Higher is handed out first among ready keys; equal priorities go in the order they became
   * ready. Re-adding a waiting key with a higher priority raises it. Default 0.
   */
  priority?: number;
}

/** Options of a queue; every field is optional. */
export interface WorkQueueOptions {
  /** Most keys in flight (handed out by get() and not yet done()) at once. Default 1. */
  concurrency?: number;
  /** Time source for delayed adds and the drain deadline. Default systemClock. */
  clock?: Clock;
  /** Told, as each key is handed out, how long it waited since it became due (client-go's workqueue_queue_duration_seconds). Default: nobody. */
  onWait?: (waitedMs: number) => void;
}

/** Counts for metrics. */
export interface WorkQueueStats {
  /** Keys that are due: runnable now, or as soon as their in-flight run is done. */
  ready: number;
  /** Keys waiting for a delayed add to come due. */
  delayed: number;
  /** Keys handed out and not yet done. */
  inFlight: number;
}

interface DelayedEntry {
  key: string;
  readyAt: number;
  priority: number;
  seq: number;
}

/** See the file comment. Not safe to share between controllers: one queue, one loop. */
export class WorkQueue {
  readonly #concurrency: number;
  readonly #clock: Clock;
  // Ready keys by priority; a Set keeps insertion (FIFO) order within a priority.
  readonly #ready = new Map<number, Set<string>>();
  readonly #readyPriority = new Map<string, number>();
  /** When each ready key became due (only kept with an onWait listener). */
  readonly #readySince = new Map<string, number>();
  readonly #onWait: ((waitedMs: number) => void) | undefined;
  #adds = 0;
  // Keys added while in flight, with their priority: they become ready at done().
  readonly #rerun = new Map<string, number>();
  readonly #inFlight = new Set<string>();
  // The one live delayed entry per key; the heap may hold stale ones, skipped when popped.
  readonly #delayed = new Map<string, DelayedEntry>();
  #heap: DelayedEntry[] = [];
  readonly #failures = new Map<string, number>();
  readonly #getters: Array<(key: string | undefined) => void> = [];
  readonly #drainers: Array<() => void> = [];
  #cancelTimer: (() => void) | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #seq = 0;
  #shutDown = false;

  constructor(options: WorkQueueOptions = {}) {
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`queue concurrency must be an integer >= 1, got ${String(concurrency)} (${typeof concurrency})`);
    }
    this.#concurrency = concurrency;
    this.#clock = options.clock ?? systemClock;
    this.#onWait = options.onWait;
  }

  /** Makes `key` due now; a pending delayed add of it is superseded. Ignored after shutdown(). */
  add(key: string, options: AddOptions = {}): void {
    if (this.#shutDown) return;
    this.#adds += 1;
    this.#delayed.delete(key);
    this.#makeDue(key, options.priority ?? 0);
    this.#dispatch();
  }

  /**
   * Makes `key` due after `ms`, unless it is already due or due sooner: one pending time per
   * key, the earliest wins. `ms <= 0` is add(). Ignored after shutdown().
   */
  addAfter(key: string, ms: number, options: AddOptions = {}): void {
    if (this.#shutDown) return;
    if (!(ms > 0)) {
      this.add(key, options);
      return;
    }
    this.#adds += 1;
    if (this.#readyPriority.has(key) || this.#rerun.has(key)) return;
    const readyAt = this.#clock.now() + ms;
    const existing = this.#delayed.get(key);
    if (existing !== undefined && existing.readyAt <= readyAt) return;
    const entry: DelayedEntry = { key, readyAt, priority: options.priority ?? 0, seq: this.#seq++ };
    this.#delayed.set(key, entry);
    this.#push(entry);
    this.#compactIfStale();
    this.#arm();
  }

  /**
   * The next due key, waiting until one is due and a slot is free; undefined once shut down.
   * The caller owns the key until it calls done(key).
   */
  get(): Promise<string | undefined> {
    if (this.#shutDown) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.#getters.push(resolve);
      this.#dispatch();
    });
  }

  /** Releases a key from get(); if it was added meanwhile, it is due again now. */
  done(key: string): void {
    if (!this.#inFlight.delete(key)) return;
    const priority = this.#rerun.get(key);
    if (priority !== undefined) {
      this.#rerun.delete(key);
      if (!this.#shutDown) this.#insertReady(key, priority);
    }
    if (this.#inFlight.size === 0) this.#drainers.splice(0).forEach((resolve) => resolve());
    this.#dispatch();
  }

  /** Consecutive failures recorded for `key` since the last forget(). */
  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** Counts one more consecutive failure of `key` and returns the new count. */
  recordFailure(key: string): number {
    const count = this.failures(key) + 1;
    this.#failures.set(key, count);
    return count;
  }

  /** Resets the failure count of `key` (after a success, or a failure not worth retrying). */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** A snapshot of the counts, for metrics. */
  stats(): WorkQueueStats {
    return { ready: this.#readyPriority.size + this.#rerun.size, delayed: this.#delayed.size, inFlight: this.#inFlight.size };
  }

  /** add() and addAfter() calls so far (client-go's workqueue_adds_total). */
  get adds(): number {
    return this.#adds;
  }

  /** True once shutdown() was called. */
  get isShutDown(): boolean {
    return this.#shutDown;
  }

  /**
   * Stops handing out keys (waiting and later get() calls return undefined), drops every
   * pending key and ignores later adds. Resolves true once every in-flight key is done, or
   * false when `drainMs` passes first. `drainMs` default: no deadline.
   */
  shutdown(options: { drainMs?: number } = {}): Promise<boolean> {
    if (!this.#shutDown) {
      this.#shutDown = true;
      this.#cancelTimer?.();
      this.#cancelTimer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
      this.#ready.clear();
      this.#readyPriority.clear();
      this.#readySince.clear();
      this.#rerun.clear();
      this.#delayed.clear();
      this.#heap = [];
      this.#getters.splice(0).forEach((resolve) => resolve(undefined));
    }
    if (this.#inFlight.size === 0) return Promise.resolve(true);
    const drainMs = options.drainMs ?? Number.POSITIVE_INFINITY;
    return new Promise((resolve) => {
      let cancel: (() => void) | undefined;
      const onDrained = (): void => {
        cancel?.();
        resolve(true);
      };
      this.#drainers.push(onDrained);
      if (Number.isFinite(drainMs)) {
        cancel = this.#clock.schedule(() => {
          const i = this.#drainers.indexOf(onDrained);
          if (i >= 0) this.#drainers.splice(i, 1);
          resolve(false);
        }, drainMs);
      }
    });
  }

  #makeDue(key: string, priority: number): void {
    if (this.#inFlight.has(key)) {
      this.#rerun.set(key, Math.max(priority, this.#rerun.get(key) ?? priority));
      return;
    }
    const current = this.#readyPriority.get(key);
    if (current !== undefined) {
      if (priority <= current) return;
      this.#removeReady(key, current);
    }
    this.#insertReady(key, priority);
  }

  #insertReady(key: string, priority: number): void {
    let bucket = this.#ready.get(priority);
    if (bucket === undefined) {
      bucket = new Set();
      this.#ready.set(priority, bucket);
    }
    bucket.add(key);
    this.#readyPriority.set(key, priority);
    if (this.#onWait !== undefined && !this.#readySince.has(key)) this.#readySince.set(key, this.#clock.now());
  }

  #removeReady(key: string, priority: number): void {
    const bucket = this.#ready.get(priority);
    bucket?.delete(key);
    if (bucket?.size === 0) this.#ready.delete(priority);
    this.#readyPriority.delete(key);
  }

  // Highest priority first, then FIFO; Map iteration is insertion order, so find the max.
  #takeReady(): string | undefined {
    let best: number | undefined;
    for (const priority of this.#ready.keys()) if (best === undefined || priority > best) best = priority;
    if (best === undefined) return undefined;
    const bucket = this.#ready.get(best);
    const key = bucket?.values().next().value;
    if (key === undefined) return undefined;
    this.#removeReady(key, best);
    return key;
  }

  #dispatch(): void {
    while (this.#getters.length > 0 && this.#inFlight.size < this.#concurrency) {
      const key = this.#takeReady();
      if (key === undefined) return;
      const since = this.#readySince.get(key);
      if (since !== undefined) {
        this.#readySince.delete(key);
        this.#onWait?.(this.#clock.now() - since);
      }
      this.#inFlight.add(key);
      this.#getters.shift()?.(key);
    }
  }

  // One timer, armed for the earliest live delayed entry.
  #arm(): void {
    const top = this.#peekLive();
    const at = top?.readyAt ?? Number.POSITIVE_INFINITY;
    if (at === this.#timerAt) return;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#timerAt = at;
    if (top === undefined) return;
    const wait = Math.min(Math.max(0, at - this.#clock.now()), MAX_TIMER_MS);
    this.#cancelTimer = this.#clock.schedule(() => this.#onTimer(), wait);
  }

  #onTimer(): void {
    this.#cancelTimer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    if (this.#shutDown) return;
    const now = this.#clock.now();
    for (let top = this.#peekLive(); top !== undefined && top.readyAt <= now; top = this.#peekLive()) {
      this.#pop();
      this.#delayed.delete(top.key);
      this.#makeDue(top.key, top.priority);
    }
    this.#arm();
    this.#dispatch();
  }

  #peekLive(): DelayedEntry | undefined {
    for (let top = this.#heap[0]; top !== undefined; top = this.#heap[0]) {
      if (this.#delayed.get(top.key) === top) return top;
      this.#pop();
    }
    return undefined;
  }

  // Superseded entries stay in the heap until popped; rebuild when they dominate it.
  #compactIfStale(): void {
    if (this.#heap.length <= 2 * this.#delayed.size + 64) return;
    this.#heap = [];
    for (const entry of this.#delayed.values()) this.#push(entry);
  }

  // A binary min-heap on (readyAt, seq).
  #push(entry: DelayedEntry): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(entry);
    for (let parent = heap[(i - 1) >> 1]; i > 0 && parent !== undefined && before(entry, parent); parent = heap[(i - 1) >> 1]) {
      heap[i] = parent;
      i = (i - 1) >> 1;
    }
    heap[i] = entry;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = heap[2 * i + 1];
      const right = heap[2 * i + 2];
      const [child, at] = right !== undefined && left !== undefined && before(right, left) ? [right, 2 * i + 2] : [left, 2 * i + 1];
      if (child === undefined || !before(child, last)) break;
      heap[i] = child;
      i = at;
    }
    heap[i] = last;
  }
}

function before(a: DelayedEntry, b: DelayedEntry): boolean {
  return a.readyAt < b.readyAt || (a.readyAt === b.readyAt && a.seq < b.seq);
}
