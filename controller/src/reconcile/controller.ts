// The generic, domain-free reconcile loop (CR:pkg/internal/controller/controller.go is the
// model): the store's watch and a periodic resync only enqueue keys; workers take keys from the
// queue and call the reconciler with a per-attempt AbortSignal; decideRetry (retry.ts) turns how
// each attempt ended into a requeue and one log line. A reconciler failure never escapes the loop.

import { randomBytes } from 'node:crypto';
import { TerminalError, isAppError } from '../../../contract/errors.ts';
import { keyOf as keyOfRef, refOf } from '../../../contract/store/store.ts';
import type { Resource, ResourceStore, StoreEvent } from '../../../contract/store/store.ts';
import { createBackoff } from '../../../contract/backoff.ts';
import { DEFAULT_WATCH_BACKOFF, WATCH_HEALTHY_MS, superviseWatch } from '../../../contract/store/supervised-watch.ts';
import type { BackoffOptions } from '../../../contract/backoff.ts';
import { WorkQueue, systemClock } from './queue.ts';
import type { AddOptions, Clock } from './queue.ts';
import { DEFAULT_ERROR_AFTER_FAILURES, decideRetry, toError } from './retry.ts';
import type { ReconcileOutcome, Settled } from './retry.ts';
import type { Logger, Reconciler } from './types.ts';

/** The part of a ResourceStore the loop reads: it never writes (the reconciler does). */
export type ControllerStore<S> = Pick<ResourceStore<S>, 'list' | 'watch'>;

/** Options of runController; defaults are named in each comment and in the DEFAULT_ constants. */
export interface ControllerOptions<S> {
  store: ControllerStore<S>;
  reconciler: Reconciler;
  /** Root logger; each reconcile gets a child bound to `key` and `reconcileId`. */
  log: Logger;
  /** Reconciles running at once (one per key at most). Default 4. */
  concurrency?: number;
  /** Every this many ms, every key from store.list() is re-enqueued at low priority. Default 300_000 (5 min); Infinity disables. */
  resyncMs?: number;
  /** Per-attempt deadline: the reconciler's signal fires after this many ms. Default 60_000; Infinity disables. */
  timeoutMs?: number;
  /** Key of a watch event (resync keys listed objects as ADDED events). Default "namespace/name". */
  keyOf?: (event: StoreEvent<S>) => string;
  /** Aborting it is stop() with stopDeadlineMs. Default: none, call stop(). */
  signal?: AbortSignal;
  /** How long stop() waits for in-flight reconciles and the watch to end. Default 30_000. */
  stopDeadlineMs?: number;
  /** From this many consecutive failures of a key on, its failures log at error level. Default 5. */
  errorAfterFailures?: number;
  /** Backoff of failing reconciles, per key. Default DEFAULT_BACKOFF (500 ms ×2, cap 5 min, equal jitter). */
  backoff?: BackoffOptions;
  /** Backoff of restarting a failed or ended watch. Default DEFAULT_WATCH_BACKOFF (1 s ×2, cap 30 s, equal jitter). */
  watchBackoff?: BackoffOptions;
  /** Time and timers, for tests. Default systemClock. */
  clock?: Clock;
  /** Told of each reconcile's duration and each key's wait in the queue (the metrics' histograms). Default: nobody. */
  observer?: LoopObserver;
}

/** Durations the loop reports as they happen (a metrics module turns them into histograms). */
export interface LoopObserver {
  /** A reconcile finished with `outcome` after `seconds`. */
  reconciled(outcome: ReconcileOutcome, seconds: number): void;
  /** A key waited `seconds` in the queue between becoming due and a worker taking it. */
  waited(seconds: number): void;
}

/** Counters for the Prometheus exporter (api-server/src/plugins/metrics.ts), read on each scrape. */
export interface ControllerMetrics {
  /** Finished reconciles by outcome, since start. */
  reconciles: Record<ReconcileOutcome, number>;
  /** Keys added to the queue since start (client-go's workqueue_adds_total). */
  queueAdds: number;
  /** Requeues after a failed reconcile, since start (workqueue_retries_total). */
  queueRetries: number;
  /** The most reconciles that run at once (controller_runtime_max_concurrent_reconciles). */
  maxConcurrentReconciles: number;
  /** Keys due now (the workqueue_depth of client-go). */
  queueDepth: number;
  /** Keys waiting for a delayed requeue. */
  queueDelayed: number;
  /** Reconciles running now. */
  activeWorkers: number;
  /** Times the watch was restarted after it failed or ended. */
  watchRestarts: number;
}

/** What runController returns. */
export interface ControllerHandle {
  /** Resolves once stopped: in-flight reconciles done or the stop deadline passed. Never rejects. */
  done: Promise<void>;
  /** Queues a reconcile of `key` (e.g. after the API created a resource); ignored once stopping. */
  enqueue(key: string): void;
  /** Stops watching and handing out keys, aborts in-flight reconciles, waits up to `deadlineMs` (default stopDeadlineMs). Idempotent; returns done. */
  stop(deadlineMs?: number): Promise<void>;
  /** A snapshot of the counters, for a metrics endpoint to read on scrape. */
  metrics(): ControllerMetrics;
}

/** Default of concurrency: a few podman calls in parallel without starving a small host. */
export const DEFAULT_CONCURRENCY = 4;
/** Default of resyncMs: the safety net for missed events (Node watches can stall silently). */
export const DEFAULT_RESYNC_MS = 300_000;
/** Default of timeoutMs: long enough for a podman start, short enough to free a stuck worker. */
export const DEFAULT_TIMEOUT_MS = 60_000;
/** Default of stopDeadlineMs: controller-runtime's graceful shutdown period. */
export const DEFAULT_STOP_DEADLINE_MS = 30_000;
/** Resync keys yield to fresh events, so a full re-list does not starve real changes (kubernetes-conventions §2.7). */
export const RESYNC_PRIORITY = -100;

/** Starts the loop; see the file comment. Throws RangeError at once for an invalid option. */
export function runController<S>(options: ControllerOptions<S>): ControllerHandle {
  const { store, reconciler, log } = options;
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const resyncMs = options.resyncMs ?? DEFAULT_RESYNC_MS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const stopDeadlineMs = options.stopDeadlineMs ?? DEFAULT_STOP_DEADLINE_MS;
  const errorAfterFailures = options.errorAfterFailures ?? DEFAULT_ERROR_AFTER_FAILURES;
  const keyOfEvent = options.keyOf ?? ((event: StoreEvent<S>): string => keyOfRef(refOf(event.object)));
  const clock = options.clock ?? systemClock;
  check('concurrency', concurrency, Number.isInteger(concurrency) && concurrency >= 1, 'an integer >= 1');
  check('resyncMs', resyncMs, resyncMs > 0, 'a number > 0 (Infinity disables)');
  check('timeoutMs', timeoutMs, timeoutMs > 0, 'a number > 0 (Infinity disables)');
  check('stopDeadlineMs', stopDeadlineMs, Number.isFinite(stopDeadlineMs) && stopDeadlineMs >= 0, 'a finite number >= 0');
  check('errorAfterFailures', errorAfterFailures, Number.isInteger(errorAfterFailures) && errorAfterFailures >= 1, 'an integer >= 1');
  const backoff = createBackoff(options.backoff);

  const observer = options.observer;
  const queue = new WorkQueue({ concurrency, clock, ...(observer === undefined ? {} : { onWait: (ms: number) => observer.waited(ms / 1000) }) });
  let queueRetries = 0;
  const reconciles: Record<ReconcileOutcome, number> = { success: 0, requeue: 0, terminal: 0, transient: 0, conflict: 0, error: 0 };
  const running = new Map<AbortController, string>();
  const stopController = new AbortController();
  const stopSignal = stopController.signal;
  let watchRestarts = 0;
  let cancelResync: (() => void) | undefined;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });

  function enqueueObject(event: StoreEvent<S>, addOptions?: AddOptions): void {
    let key: unknown;
    try {
      key = keyOfEvent(event);
    } catch (err) {
      log.warn({ err: toError(err), eventType: event.type }, 'cannot key event');
      return;
    }
    if (typeof key !== 'string' || key === '') {
      log.warn({ eventType: event.type, keyType: typeof key }, 'cannot key event');
      return;
    }
    queue.add(key, addOptions);
  }

  // The store's watch, restarted after any failure or end (a restart is a relist).
  function watchForever(): Promise<void> {
    return superviseWatch({
      source: store,
      onEvent: (event) => enqueueObject(event),
      signal: stopSignal,
      log,
      backoff: { ...DEFAULT_WATCH_BACKOFF, ...options.watchBackoff },
      healthyMs: WATCH_HEALTHY_MS,
      now: () => clock.now(),
      sleep: (ms) => sleep(ms),
      onRestart: () => {
        watchRestarts++;
      },
    });
  }

  // On the injectable clock (not node:timers/promises), so tests drive restarts with fake time.
  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (stopSignal.aborted) return resolve();
      const onStop = (): void => {
        cancel();
        resolve();
      };
      const cancel = clock.schedule(() => {
        stopSignal.removeEventListener('abort', onStop);
        resolve();
      }, ms);
      stopSignal.addEventListener('abort', onStop, { once: true });
    });
  }

  function scheduleResync(): void {
    if (stopSignal.aborted || !Number.isFinite(resyncMs)) return;
    cancelResync = clock.schedule(() => void resync().catch(() => undefined), resyncMs);
  }

  async function resync(): Promise<void> {
    cancelResync = undefined;
    try {
      const objects: Resource<S>[] = await store.list();
      for (const object of objects) enqueueObject({ type: 'ADDED', object }, { priority: RESYNC_PRIORITY });
      log.debug({ objects: objects.length }, 'resync enqueued');
    } catch (err) {
      log.warn({ err: toError(err) }, 'resync failed');
    } finally {
      scheduleResync();
    }
  }

  async function work(): Promise<void> {
    for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
      try {
        await reconcileOne(key);
      } catch (err) {
        // Only a throwing logger gets here; the key must still be released.
        try {
          log.error({ err: toError(err), key }, 'reconcile loop error');
        } catch {
          // Nothing left to report to.
        }
      } finally {
        queue.done(key);
      }
    }
  }

  async function reconcileOne(key: string): Promise<void> {
    const reconcileId = randomBytes(4).toString('hex');
    const rlog = log.child({ key, reconcileId });
    const abort = new AbortController();
    running.set(abort, key);
    let timedOut = false;
    const cancelTimeout = Number.isFinite(timeoutMs)
      ? clock.schedule(() => {
          timedOut = true;
          rlog.warn({ timeoutMs }, 'reconcile timed out');
          abort.abort(new DOMException('reconcile timed out', 'TimeoutError'));
        }, timeoutMs)
      : undefined;
    const startedAt = clock.now();
    let settled: Settled;
    try {
      settled = { ok: true, value: await reconciler.reconcile(key, { signal: abort.signal, log: rlog, reconcileId }) };
    } catch (error) {
      settled = { ok: false, error };
    } finally {
      cancelTimeout?.();
      running.delete(abort);
    }

    const decision = decideRetry({ settled, previousFailures: queue.failures(key), backoff, errorAfterFailures });
    reconciles[decision.outcome]++;
    observer?.reconciled(decision.outcome, (clock.now() - startedAt) / 1000);
    if (decision.forget) queue.forget(key);
    else {
      queue.recordFailure(key);
      queueRetries += 1;
    }

    const { requeue, error } = decision;
    const fields: Record<string, unknown> = { durationMs: clock.now() - startedAt };
    if (error !== undefined) fields['err'] = error;
    if (!decision.forget) fields['attempt'] = decision.failures;
    if (timedOut) fields['timedOut'] = true;
    if (isAppError(error)) fields['code'] = error.code;
    if (error instanceof TerminalError) fields['reason'] = error.reason;
    if (stopSignal.aborted && !decision.forget) {
      rlog.info(fields, 'reconcile interrupted by stop');
      return;
    }
    if (requeue.kind === 'now') queue.add(key);
    if (requeue.kind === 'after') queue.addAfter(key, requeue.ms);
    if (requeue.kind !== 'none') fields[decision.forget ? 'requeueAfterMs' : 'retryInMs'] = requeue.kind === 'now' ? 0 : requeue.ms;
    rlog[decision.level](fields, decision.message);
  }

  function stop(deadlineMs: number = stopDeadlineMs): Promise<void> {
    if (stopSignal.aborted) return done;
    const drainMs = Number.isFinite(deadlineMs) && deadlineMs >= 0 ? deadlineMs : stopDeadlineMs;
    options.signal?.removeEventListener('abort', onExternalAbort);
    cancelResync?.();
    cancelResync = undefined;
    stopController.abort();
    for (const abort of running.keys()) abort.abort(new DOMException('controller stopping', 'AbortError'));
    void finish(drainMs);
    return done;
  }

  async function finish(drainMs: number): Promise<void> {
    const watchEnded = new Promise<boolean>((resolve) => {
      const cancel = clock.schedule(() => resolve(false), drainMs);
      void watching.then(() => {
        cancel();
        resolve(true);
      });
    });
    try {
      const [drained, watchClosed] = await Promise.all([queue.shutdown({ drainMs }), watchEnded]);
      if (!drained) log.warn({ keys: [...running.values()], deadlineMs: drainMs }, 'stop deadline passed with reconciles in flight');
      if (!watchClosed) log.warn({ deadlineMs: drainMs }, 'stop deadline passed with the watch open');
      log.info({}, 'controller stopped');
    } finally {
      resolveDone();
    }
  }

  function onExternalAbort(): void {
    void stop();
  }

  log.info({ concurrency, resyncMs, timeoutMs }, 'controller started');
  let watching: Promise<void> = Promise.resolve();
  if (options.signal?.aborted) {
    void stop();
  } else {
    // watchForever handles every store failure; only a throwing logger could reject it.
    watching = watchForever().catch(() => undefined);
    for (let i = 0; i < concurrency; i++) void work();
    scheduleResync();
    options.signal?.addEventListener('abort', onExternalAbort, { once: true });
  }

  return {
    done,
    enqueue: (key) => queue.add(key),
    stop,
    metrics: () => {
      const stats = queue.stats();
      return {
        reconciles: { ...reconciles },
        queueAdds: queue.adds,
        queueRetries,
        maxConcurrentReconciles: concurrency,
        queueDepth: stats.ready,
        queueDelayed: stats.delayed,
        activeWorkers: running.size,
        watchRestarts,
      };
    },
  };
}

function check(name: string, value: number, ok: boolean, expected: string): void {
  if (!ok) throw new RangeError(`runController ${name} must be ${expected}, got ${String(value)} (${typeof value})`);
}
