// The one retrying watch of the project: keeps a store's watch open for as long as its consumer
// runs. Any failure or end of the watch (an error, a dropped connection, a store that ends its
// stream) is followed, after a jittered backoff, by a new watch, and every store's watch starts
// with an ADDED for each existing object: a restart is a relist, so a level-based consumer never
// misses a state, only sees some twice. Used by the reconcile loop, the facade's run watcher and
// the Kubernetes store's informer.
import { createBackoff } from '../backoff.ts';
import { abortableSleep } from '../sleep.ts';
import type { Backoff, BackoffOptions } from '../backoff.ts';
import type { LogSink } from '../logger.ts';

/** The watch half of a ResourceStore, or any other stream of events E that may end or fail. */
export interface WatchSource<E> {
  watch(signal: AbortSignal): AsyncIterable<E>;
}

/** Where a restart is reported (a pino logger fits). */
export type WatchLogger = Pick<LogSink, 'warn'>;

/** Options of superviseWatch; every default is named. */
export interface SupervisedWatchOptions<E> {
  source: WatchSource<E>;
  /** Called for every event, in order; a throw is logged and the watch goes on. */
  onEvent: (event: E) => void;
  /** Ends the watch for good. */
  signal: AbortSignal;
  log: WatchLogger;
  /** Delay before restart n (1 = first): options of createBackoff, or the delay function itself. Default DEFAULT_WATCH_BACKOFF: 1 s doubling to 30 s, equal jitter. */
  backoff?: BackoffOptions | Backoff;
  /** A watch that lived this long was healthy: the next restart starts from the base delay again. Default WATCH_HEALTHY_MS (60 s). */
  healthyMs?: number;
  /** Called after each failure or end, before the backoff (metrics). Default: nothing. */
  onRestart?: (restart: WatchRestart) => void;
  /** Milliseconds now. Default Date.now. */
  now?: () => number;
  /** Abortable sleep that resolves (never rejects) when the signal aborts. Default: node:timers/promises. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** What ended one watch, and when the next one starts. */
export interface WatchRestart {
  /** Consecutive restarts without a healthy watch in between. */
  attempt: number;
  retryInMs: number;
  /** Absent when the watch ended without an error. */
  err?: unknown;
}

/**
 * What a source throws to say how its watch ended, with log fields (e.g. the server's reason);
 * `clean` marks an expected end (a server-side timeout, an expired resourceVersion), logged as
 * ended rather than failed. Anything else a source throws is a failure.
 */
export class WatchEnded extends Error {
  readonly fields: Record<string, unknown>;
  readonly clean: boolean;

  constructor(fields: Record<string, unknown>, options: { clean: boolean; cause?: unknown }) {
    super(`watch ended (${String(fields['reason'] ?? 'unknown')})`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WatchEnded';
    this.fields = fields;
    this.clean = options.clean;
  }
}

/** Restarts start at 1 s: a broken API server should not be hit every 500 ms by every agent. */
export const DEFAULT_WATCH_BACKOFF: BackoffOptions = { baseMs: 1_000, capMs: 30_000 };
/** A watch that lived this long was healthy: its next failure starts the backoff from the base again. */
export const WATCH_HEALTHY_MS = 60_000;

/** Runs the watch until `signal` aborts; resolves then. Never rejects for a store failure. */
export async function superviseWatch<E>(options: SupervisedWatchOptions<E>): Promise<void> {
  const { source, onEvent, signal, log } = options;
  const backoff = typeof options.backoff === 'function' ? options.backoff : createBackoff({ ...DEFAULT_WATCH_BACKOFF, ...options.backoff });
  const healthyMs = options.healthyMs ?? WATCH_HEALTHY_MS;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? abortableSleep;
  let attempt = 0;
  while (!signal.aborted) {
    const startedAt = now();
    let failure: { err: unknown } | undefined;
    let fields: Record<string, unknown> = {};
    try {
      for await (const event of source.watch(signal)) {
        if (signal.aborted) break;
        try {
          onEvent(event);
        } catch (err) {
          log.warn({ err }, 'watch event handler failed');
        }
      }
    } catch (err) {
      if (err instanceof WatchEnded) {
        fields = err.fields;
        if (!err.clean) failure = { err: err.cause ?? err };
      } else {
        failure = { err };
      }
    }
    if (signal.aborted) return;
    attempt = now() - startedAt >= healthyMs ? 1 : attempt + 1;
    const retryInMs = backoff(attempt);
    options.onRestart?.({ attempt, retryInMs, ...failure });
    log.warn({ ...fields, ...failure, attempt, retryInMs }, failure === undefined ? 'watch ended' : 'watch failed');
    await sleep(retryInMs, signal);
  }
}
