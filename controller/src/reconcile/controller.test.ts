import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConflictError, TerminalError, TransientError } from '../../../contract/errors.ts';
import type { Resource, StoreEvent } from '../../../contract/store/store.ts';
import { RESYNC_PRIORITY, runController } from './controller.ts';
import type { ControllerHandle, ControllerOptions, ControllerStore } from './controller.ts';
import { FakeLogger } from './fake-logger.ts';
import type { ReconcileContext, ReconcileResult, Reconciler } from './types.ts';

// Only timers and Date are faked; setImmediate stays real so settle() can flush promise chains.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const advance = async (ms: number): Promise<void> => {
  await vi.advanceTimersByTimeAsync(ms);
  await settle();
};

function resource(namespace: string, name: string): Resource<unknown> {
  return {
    apiVersion: 'stromboli.dev/v1alpha1',
    kind: 'AgentRun',
    metadata: { namespace, name, uid: `uid-${name}`, generation: 1, resourceVersion: '1', creationTimestamp: '2025-01-01T00:00:00Z' },
    spec: {},
  };
}
const added = (namespace: string, name: string): StoreEvent<unknown> => ({ type: 'ADDED', object: resource(namespace, name) });

type WatchItem = { kind: 'event'; event: StoreEvent<unknown> } | { kind: 'error'; error: unknown } | { kind: 'end' };

/** One watch stream: the test pushes events, errors or an end. Ends on abort unless told not to. */
class FakeWatch implements AsyncIterable<StoreEvent<unknown>> {
  readonly #items: WatchItem[] = [];
  #wake: (() => void) | undefined;

  constructor(signal: AbortSignal, ignoreAbort: boolean) {
    if (!ignoreAbort) signal.addEventListener('abort', () => this.end(), { once: true });
  }

  emit(event: StoreEvent<unknown>): void {
    this.#push({ kind: 'event', event });
  }
  fail(error: unknown): void {
    this.#push({ kind: 'error', error });
  }
  end(): void {
    this.#push({ kind: 'end' });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StoreEvent<unknown>> {
    for (;;) {
      const item = this.#items.shift();
      if (item === undefined) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        continue;
      }
      if (item.kind === 'end') return;
      if (item.kind === 'error') throw item.error;
      yield item.event;
    }
  }

  #push(item: WatchItem): void {
    this.#items.push(item);
    this.#wake?.();
    this.#wake = undefined;
  }
}

/** The list+watch half of a ResourceStore, driven by the test. */
class FakeWatchSource implements ControllerStore<unknown> {
  objects: Resource<unknown>[] = [];
  listError: unknown;
  watchThrows: unknown;
  ignoreAbort = false;
  readonly watches: FakeWatch[] = [];

  async list(): Promise<Resource<unknown>[]> {
    if (this.listError !== undefined) throw this.listError;
    return [...this.objects];
  }

  watch(signal: AbortSignal): AsyncIterable<StoreEvent<unknown>> {
    if (this.watchThrows !== undefined) throw this.watchThrows;
    const watch = new FakeWatch(signal, this.ignoreAbort);
    this.watches.push(watch);
    return watch;
  }

  get current(): FakeWatch {
    const watch = this.watches.at(-1);
    if (watch === undefined) throw new Error('no watch started');
    return watch;
  }
}

interface Call {
  key: string;
  at: number;
  ctx: ReconcileContext;
}

/** Records calls; each call's behaviour comes from `handle`, default success. */
class FakeReconciler implements Reconciler {
  readonly calls: Call[] = [];
  active = 0;
  maxActive = 0;
  readonly activeKeys = new Set<string>();
  keyOverlap = false;
  handle: (key: string, ctx: ReconcileContext, attempt: number) => Promise<ReconcileResult> = async () => ({});

  async reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    if (this.activeKeys.has(key)) this.keyOverlap = true;
    this.activeKeys.add(key);
    this.calls.push({ key, at: Date.now(), ctx });
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      return await this.handle(key, ctx, this.calls.filter((c) => c.key === key).length);
    } finally {
      this.active--;
      this.activeKeys.delete(key);
    }
  }

  callsFor(key: string): Call[] {
    return this.calls.filter((c) => c.key === key);
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Resolves when the signal aborts, rejecting with its reason, as I/O honouring a signal does. */
function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
}

interface Harness {
  store: FakeWatchSource;
  reconciler: FakeReconciler;
  log: FakeLogger;
  handle: ControllerHandle;
}

let running: ControllerHandle[] = [];
afterEach(async () => {
  for (const handle of running) void handle.stop(0);
  await vi.advanceTimersByTimeAsync(0);
  running = [];
});

async function start(options: Partial<ControllerOptions<unknown>> = {}, setup?: (h: Omit<Harness, 'handle'>) => void): Promise<Harness> {
  const store = new FakeWatchSource();
  const reconciler = new FakeReconciler();
  const log = new FakeLogger();
  setup?.({ store, reconciler, log });
  const handle = runController({ store, reconciler, log, backoff: { jitter: 'none' }, watchBackoff: { jitter: 'none' }, ...options });
  running.push(handle);
  await settle();
  return { store, reconciler, log, handle };
}

describe('runController', () => {
  it('reconciles the key of every watch event, once for events that arrive while it is queued', async () => {
    const { store, reconciler } = await start({ concurrency: 1 });
    const gate = deferred();
    reconciler.handle = async (key) => {
      if (key === 'ns/first') await gate.promise;
      return {};
    };
    store.current.emit(added('ns', 'first'));
    store.current.emit(added('ns', 'a'));
    store.current.emit({ type: 'MODIFIED', object: resource('ns', 'a') });
    store.current.emit({ type: 'DELETED', object: resource('ns', 'b') });
    await settle();
    gate.resolve();
    await settle();
    expect(reconciler.calls.map((c) => c.key)).toEqual(['ns/first', 'ns/a', 'ns/b']);
  });

  it('never reconciles one key twice at once, and reconciles again when an event arrived meanwhile', async () => {
    const { store, reconciler } = await start({ concurrency: 4 });
    const gate = deferred();
    reconciler.handle = async (_key, _ctx, attempt) => {
      if (attempt === 1) await gate.promise;
      return {};
    };
    store.current.emit(added('ns', 'a'));
    await settle();
    store.current.emit({ type: 'MODIFIED', object: resource('ns', 'a') });
    store.current.emit({ type: 'MODIFIED', object: resource('ns', 'a') });
    await settle();
    expect(reconciler.calls).toHaveLength(1);
    gate.resolve();
    await settle();
    expect(reconciler.calls).toHaveLength(2);
    expect(reconciler.keyOverlap).toBe(false);
  });

  it('runs at most `concurrency` reconciles at once and reports them as active workers', async () => {
    const { store, reconciler, handle } = await start({ concurrency: 2 });
    const gate = deferred();
    reconciler.handle = async () => {
      await gate.promise;
      return {};
    };
    for (const name of ['a', 'b', 'c', 'd', 'e']) store.current.emit(added('ns', name));
    await settle();
    expect(reconciler.active).toBe(2);
    expect(handle.metrics()).toMatchObject({ activeWorkers: 2, queueDepth: 3 });
    gate.resolve();
    await settle();
    expect(reconciler.calls).toHaveLength(5);
    expect(reconciler.maxActive).toBe(2);
    expect(handle.metrics()).toMatchObject({ activeWorkers: 0, queueDepth: 0, reconciles: { success: 5 } });
  });

  it('reconciles again after exactly requeueAfterMs and resets the failure count', async () => {
    const { reconciler, handle } = await start();
    reconciler.handle = async (_key, _ctx, attempt) => {
      if (attempt === 1) throw new Error('flaky');
      return attempt === 2 ? { requeueAfterMs: 10_000 } : {};
    };
    handle.enqueue('ns/a');
    await settle();
    await advance(500);
    expect(reconciler.calls).toHaveLength(2);
    await advance(9_999);
    expect(reconciler.calls).toHaveLength(2);
    await advance(1);
    expect(reconciler.calls.map((c) => c.at)).toEqual([0, 500, 10_500]);
    expect(handle.metrics().reconciles).toMatchObject({ error: 1, requeue: 1, success: 1 });
  });

  it('logs a TerminalError once at warn with its reason and never retries it', async () => {
    const { reconciler, handle, log } = await start();
    reconciler.handle = async () => {
      throw new TerminalError('WorkspaceNotAllowed', 'workspace outside the allowlist');
    };
    handle.enqueue('ns/bad');
    await advance(3_600_000);
    expect(reconciler.calls).toHaveLength(1);
    const lines = log.lines.filter((l) => l.level === 'warn' || l.level === 'error');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', msg: 'reconcile failed permanently', fields: { key: 'ns/bad', reason: 'WorkspaceNotAllowed', code: 'INVALID_SPEC' } });
    expect(handle.metrics().reconciles.terminal).toBe(1);
  });

  it('retries a TransientError after exactly its retryAfterMs', async () => {
    const { reconciler, handle, log } = await start();
    reconciler.handle = async (_key, _ctx, attempt) => {
      if (attempt === 1) throw new TransientError('image pull in progress', 7_000);
      return {};
    };
    handle.enqueue('ns/a');
    await advance(6_999);
    expect(reconciler.calls).toHaveLength(1);
    await advance(1);
    expect(reconciler.calls.map((c) => c.at)).toEqual([0, 7_000]);
    expect(log.withMessage('reconcile deferred')[0]).toMatchObject({ level: 'info', fields: { key: 'ns/a', attempt: 1, retryInMs: 7_000 } });
  });

  it('retries a ConflictError at once, and backs off when the conflict repeats', async () => {
    const { reconciler, handle } = await start();
    reconciler.handle = async (_key, _ctx, attempt) => {
      if (attempt <= 3) throw new ConflictError('stale resourceVersion');
      return {};
    };
    handle.enqueue('ns/a');
    await settle();
    expect(reconciler.calls.map((c) => c.at)).toEqual([0, 0]);
    await advance(500);
    expect(reconciler.calls.map((c) => c.at)).toEqual([0, 0, 500]);
    await advance(1_000);
    expect(reconciler.calls.map((c) => c.at)).toEqual([0, 0, 500, 1_500]);
    expect(handle.metrics().reconciles).toMatchObject({ conflict: 3, success: 1 });
  });

  it('backs off exponentially on other errors, logs at error level from the fifth failure with the attempt, and keeps retrying', async () => {
    const { reconciler, handle, log } = await start();
    reconciler.handle = async () => {
      throw new Error('podman is down');
    };
    handle.enqueue('ns/a');
    await advance(0.5e3 + 1e3 + 2e3 + 4e3 + 8e3 + 16e3);
    expect(reconciler.calls.map((c) => c.at)).toEqual([0, 500, 1_500, 3_500, 7_500, 15_500, 31_500]);
    const failures = log.withMessage('reconcile failed');
    expect(failures.map((l) => l.level)).toEqual(['warn', 'warn', 'warn', 'warn', 'error', 'error', 'error']);
    expect(failures[4]?.fields).toMatchObject({ key: 'ns/a', attempt: 5, retryInMs: 8_000 });
    expect(failures[4]?.fields['err']).toBeInstanceOf(Error);
    expect(handle.metrics().reconciles.error).toBe(7);
  });

  it('starts the backoff from the base again after a success', async () => {
    const { reconciler, handle } = await start();
    reconciler.handle = async (_key, _ctx, attempt) => {
      if (attempt === 3) return {};
      throw new Error('flaky');
    };
    handle.enqueue('ns/a');
    await advance(1_500);
    expect(reconciler.calls.map((c) => c.at)).toEqual([0, 500, 1_500]);
    handle.enqueue('ns/a');
    await advance(500);
    expect(reconciler.calls.map((c) => c.at)).toEqual([0, 500, 1_500, 1_500, 2_000]);
  });

  it('survives reconcilers that throw non-Errors, reject with undefined, or throw synchronously', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const { reconciler, handle, log } = await start();
      const throwers: Record<string, () => Promise<ReconcileResult>> = {
        'ns/string': async () => {
          throw 'boom';
        },
        'ns/undefined': () => Promise.reject(undefined),
        'ns/sync': () => {
          throw new Error('sync throw');
        },
        // @ts-expect-error a JS reconciler may resolve with something that is not a result
        'ns/junk': () => Promise.resolve(42),
      };
      reconciler.handle = (key) => (throwers[key] ?? (async () => ({})))();
      for (const key of Object.keys(throwers)) handle.enqueue(key);
      await settle();
      const failed = log.withMessage('reconcile failed');
      expect(failed.map((l) => l.fields['key']).sort()).toEqual(['ns/junk', 'ns/string', 'ns/sync', 'ns/undefined']);
      expect(failed.every((l) => l.fields['err'] instanceof Error)).toBe(true);
      expect(handle.metrics().reconciles.error).toBe(4);
      // They keep being retried with backoff.
      await advance(500);
      expect(reconciler.calls).toHaveLength(8);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('aborts a reconcile at timeoutMs and retries it with backoff', async () => {
    const { reconciler, handle, log } = await start({ timeoutMs: 1_000 });
    reconciler.handle = async (_key, ctx, attempt) => {
      if (attempt === 1) await untilAborted(ctx.signal);
      return {};
    };
    handle.enqueue('ns/slow');
    await advance(999);
    expect(reconciler.calls[0]?.ctx.signal.aborted).toBe(false);
    await advance(1);
    expect(reconciler.calls[0]?.ctx.signal.aborted).toBe(true);
    expect(reconciler.calls[0]?.ctx.signal.reason).toMatchObject({ name: 'TimeoutError' });
    expect(log.withMessage('reconcile timed out')).toHaveLength(1);
    expect(log.withMessage('reconcile failed')[0]?.fields).toMatchObject({ key: 'ns/slow', timedOut: true, attempt: 1 });
    await advance(500);
    expect(reconciler.calls.map((c) => c.at)).toEqual([0, 1_500]);
  });

  it('gives each reconcile a short random reconcileId, bound with the key on its logger', async () => {
    const { reconciler, handle, log } = await start();
    reconciler.handle = async (_key, ctx) => {
      ctx.log.info({ step: 'read' }, 'reconciler step');
      return {};
    };
    handle.enqueue('ns/a');
    handle.enqueue('ns/b');
    await settle();
    handle.enqueue('ns/a');
    await settle();
    const ids = reconciler.calls.map((c) => c.ctx.reconcileId);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}$/);
    const steps = log.withMessage('reconciler step');
    expect(steps.map((l) => [l.fields['key'], l.fields['reconcileId']])).toEqual(reconciler.calls.map((c) => [c.key, c.ctx.reconcileId]));
    const outcomes = log.withMessage('reconcile succeeded');
    expect(outcomes.map((l) => l.fields['reconcileId'])).toEqual(ids);
  });

  it('re-enqueues every listed key at each resync, after fresh events', async () => {
    const { store, reconciler, log } = await start({ resyncMs: 60_000, concurrency: 1 }, (h) => {
      h.store.objects = [resource('ns', 'old-1'), resource('ns', 'old-2')];
    });
    expect(RESYNC_PRIORITY).toBeLessThan(0);
    const gate = deferred();
    reconciler.handle = async (key) => {
      if (key === 'ns/busy') await gate.promise;
      return {};
    };
    store.current.emit(added('ns', 'busy'));
    await advance(60_000);
    // The resync keys are queued behind the in-flight 'busy'; a fresh event overtakes them.
    store.current.emit(added('ns', 'fresh'));
    await settle();
    gate.resolve();
    await settle();
    expect(reconciler.calls.map((c) => c.key)).toEqual(['ns/busy', 'ns/fresh', 'ns/old-1', 'ns/old-2']);
    await advance(60_000);
    expect(reconciler.calls.map((c) => c.key).slice(4)).toEqual(['ns/old-1', 'ns/old-2']);
    expect(log.withMessage('resync enqueued')).toHaveLength(2);
  });

  it('logs a failing resync and tries again at the next period', async () => {
    const { store, reconciler, log } = await start({ resyncMs: 60_000 }, (h) => {
      h.store.listError = new Error('apiserver unavailable');
    });
    await advance(60_000);
    expect(log.withMessage('resync failed')).toHaveLength(1);
    store.listError = undefined;
    store.objects = [resource('ns', 'a')];
    await advance(60_000);
    expect(reconciler.calls.map((c) => c.key)).toEqual(['ns/a']);
  });

  it('restarts a watch that throws, with backoff, and counts the restart', async () => {
    const { store, reconciler, handle, log } = await start();
    store.current.fail(new Error('watch connection reset'));
    await settle();
    expect(store.watches).toHaveLength(1);
    expect(log.withMessage('watch failed')[0]).toMatchObject({ level: 'warn', fields: { attempt: 1, retryInMs: 1_000 } });
    await advance(1_000);
    expect(store.watches).toHaveLength(2);
    store.current.emit(added('ns', 'after-restart'));
    await settle();
    expect(reconciler.calls.map((c) => c.key)).toEqual(['ns/after-restart']);
    expect(handle.metrics().watchRestarts).toBe(1);
  });

  it('restarts a watch that ends while not stopped, backing off further when it keeps ending', async () => {
    const { store, log } = await start();
    store.current.end();
    await advance(1_000);
    expect(store.watches).toHaveLength(2);
    store.current.end();
    await advance(1_999);
    expect(store.watches).toHaveLength(2);
    await advance(1);
    expect(store.watches).toHaveLength(3);
    expect(log.withMessage('watch ended').map((l) => l.fields['attempt'])).toEqual([1, 2]);
  });

  it('starts the watch backoff from the base again after a long healthy watch', async () => {
    const { store, log } = await start();
    store.current.end();
    await advance(1_000);
    store.current.end();
    await advance(2_000);
    await advance(120_000);
    store.current.end();
    await settle();
    expect(log.withMessage('watch ended').map((l) => l.fields['retryInMs'])).toEqual([1_000, 2_000, 1_000]);
  });

  it('keeps running when store.watch() itself throws', async () => {
    const { store, handle } = await start({}, (h) => {
      h.store.watchThrows = new Error('not connected');
    });
    await advance(2_999);
    expect(handle.metrics().watchRestarts).toBe(2);
    store.watchThrows = undefined;
    await advance(1);
    expect(store.watches).toHaveLength(1);
  });

  it('uses a custom keyOf for watch events and resync, and skips events it cannot key', async () => {
    const keyOf = (event: StoreEvent<unknown>): string => (event.object.metadata.name === 'unnamed' ? '' : `uid:${event.object.metadata.uid}`);
    const { store, reconciler, log } = await start({ resyncMs: 60_000, keyOf }, (h) => {
      h.store.objects = [resource('ns', 'listed')];
    });
    store.current.emit(added('ns', 'a'));
    // @ts-expect-error a broken store may deliver an object without metadata: keyOf throws
    store.current.emit({ type: 'ADDED', object: { spec: {} } });
    store.current.emit(added('ns', 'unnamed'));
    store.current.emit(added('ns', 'b'));
    await advance(60_000);
    expect(reconciler.calls.map((c) => c.key)).toEqual(['uid:uid-a', 'uid:uid-b', 'uid:uid-listed']);
    expect(log.withMessage('cannot key event').map((l) => l.fields['err'] instanceof TypeError)).toEqual([true, false]);
  });

  it('keys events as namespace/name by default and survives an object it cannot key', async () => {
    const { store, reconciler, log } = await start();
    // @ts-expect-error a broken store may deliver an object without metadata
    store.current.emit({ type: 'MODIFIED', object: {} });
    store.current.emit(added('team-a', 'run-1'));
    await settle();
    expect(log.withMessage('cannot key event')).toMatchObject([{ level: 'warn', fields: { eventType: 'MODIFIED' } }]);
    expect(reconciler.calls.map((c) => c.key)).toEqual(['team-a/run-1']);
  });

  it('on stop, aborts in-flight reconciles, waits for them, and reconciles nothing more', async () => {
    const { store, reconciler, handle, log } = await start();
    let finished = false;
    reconciler.handle = async (_key, ctx) => {
      await untilAborted(ctx.signal).catch(() => undefined);
      finished = true;
      return {};
    };
    handle.enqueue('ns/a');
    await settle();
    let stopped = false;
    void handle.stop().then(() => (stopped = true));
    await settle();
    expect(reconciler.calls[0]?.ctx.signal.reason).toMatchObject({ name: 'AbortError' });
    expect(finished).toBe(true);
    expect(stopped).toBe(true);
    handle.enqueue('ns/b');
    store.current.emit(added('ns', 'c'));
    await advance(600_000);
    expect(reconciler.calls).toHaveLength(1);
    expect(log.withMessage('controller stopped')).toHaveLength(1);
    expect(handle.stop()).toBe(handle.done);
  });

  it('does not requeue a reconcile that failed because of the stop', async () => {
    const { reconciler, handle, log } = await start();
    reconciler.handle = async (_key, ctx) => untilAborted(ctx.signal);
    handle.enqueue('ns/a');
    await settle();
    await handle.stop();
    expect(log.withMessage('reconcile interrupted by stop')).toMatchObject([{ level: 'info', fields: { key: 'ns/a' } }]);
    expect(log.lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
  });

  it('resolves done at the stop deadline when a reconciler ignores its signal', async () => {
    const { store, reconciler, handle, log } = await start({}, (h) => {
      h.store.ignoreAbort = true;
    });
    reconciler.handle = () => new Promise<never>(() => {});
    handle.enqueue('ns/stuck');
    await settle();
    let stopped = false;
    void handle.stop(5_000).then(() => (stopped = true));
    await advance(4_999);
    expect(stopped).toBe(false);
    await advance(1);
    expect(stopped).toBe(true);
    expect(log.withMessage('stop deadline passed with reconciles in flight')[0]?.fields).toMatchObject({ keys: ['ns/stuck'], deadlineMs: 5_000 });
    expect(log.withMessage('stop deadline passed with the watch open')).toHaveLength(1);
    expect(store.watches).toHaveLength(1);
  });

  it('stops when the signal it was given aborts, even one aborted before start', async () => {
    const controller = new AbortController();
    const { handle } = await start({ signal: controller.signal });
    controller.abort();
    await settle();
    await expect(handle.done).resolves.toBeUndefined();

    const preAborted = await start({ signal: AbortSignal.abort() });
    await expect(preAborted.handle.done).resolves.toBeUndefined();
    expect(preAborted.store.watches).toHaveLength(0);
  });

  it('counts delayed keys separately from the queue depth', async () => {
    const { reconciler, handle } = await start();
    reconciler.handle = async () => ({ requeueAfterMs: 60_000 });
    handle.enqueue('ns/a');
    handle.enqueue('ns/b');
    await settle();
    expect(handle.metrics()).toEqual({
      reconciles: { success: 0, requeue: 2, terminal: 0, transient: 0, conflict: 0, error: 0 },
      queueAdds: 4, // two enqueues, two delayed requeues
      queueRetries: 0,
      maxConcurrentReconciles: 4,
      queueDepth: 0,
      queueDelayed: 2,
      activeWorkers: 0,
      watchRestarts: 0,
    });
  });

  it("tells its observer each reconcile's outcome and duration and each key's wait, and counts a failed reconcile as a retry", async () => {
    const reconciled: string[] = [];
    const waits: number[] = [];
    const { reconciler, handle } = await start({ observer: { reconciled: (outcome, seconds) => reconciled.push(`${outcome} ${seconds >= 0}`), waited: (s) => waits.push(s) } });
    reconciler.handle = async (key) => {
      if (key === 'ns/bad') throw new Error('boom');
      return {};
    };
    handle.enqueue('ns/a');
    handle.enqueue('ns/bad');
    await settle();
    expect(reconciled.slice(0, 2).sort()).toEqual(['error true', 'success true']);
    expect(waits.length).toBeGreaterThanOrEqual(2);
    expect(waits.every((s) => s >= 0)).toBe(true);
    expect(handle.metrics().queueRetries).toBeGreaterThanOrEqual(1);
  });

  it.each([
    ['concurrency', { concurrency: 0 }, /concurrency must be an integer >= 1, got 0/],
    ['resyncMs', { resyncMs: -1 }, /resyncMs must be a number > 0/],
    ['timeoutMs', { timeoutMs: Number.NaN }, /timeoutMs must be a number > 0/],
    ['stopDeadlineMs', { stopDeadlineMs: Number.POSITIVE_INFINITY }, /stopDeadlineMs must be a finite number >= 0/],
    ['errorAfterFailures', { errorAfterFailures: 0 }, /errorAfterFailures must be an integer >= 1/],
    ['backoff', { backoff: { factor: 0 } }, /backoff factor must be/],
  ])('rejects an invalid %s at start', (_name, bad, message) => {
    const store = new FakeWatchSource();
    expect(() => runController({ store, reconciler: new FakeReconciler(), log: new FakeLogger(), ...bad })).toThrow(message);
    expect(store.watches).toHaveLength(0);
  });
});
