// A supervised informer: list, then watch from the list's resourceVersion with bookmarks; on
// ANY end of the watch (an error, a 410 Expired, a server-side timeout, a closed connection,
// a watch silent for longer than staleAfterMs) wait a jittered backoff, list again and emit
// only the difference (relist-diff.ts), so the consumer never misses a level. client-node's
// own ListWatch stops for good on a non-410 error (kubernetes-conventions §3.3), hence this.
// Domain-free and client-free: it lists and watches through a ListWatchSource, and its restarts
// are the project's one retrying watch (contract/store/supervised-watch.ts).

import { z } from 'zod';
import type { Resource, StoreEvent } from '../../../../contract/store/store.ts';
import type { Backoff } from '../../../../contract/backoff.ts';
import { compact } from '../../../../contract/compact.ts';
import { WatchEnded, superviseWatch } from '../../../../contract/store/supervised-watch.ts';
import { isExpired, parseKubeStatus } from './kube-errors.ts';
import type { KubeStatus } from './kube-errors.ts';
import type { KubeStoreLogger } from './kube-store-options.ts';
import { KubeBookmarkSchema } from './kube-object.ts';
import { applyWatchEvent, diffRelist } from './relist-diff.ts';
import type { ObjectCache } from './relist-diff.ts';

/** The callbacks of one watch stream. */
export interface WatchHandlers {
  /** One line of the stream: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR, and its raw object. */
  onEvent(type: string, object: unknown): void;
  /** The stream ended: undefined/null for a clean close, otherwise why. */
  onEnd(err: unknown): void;
}

/** Where an informer lists and watches: kube-list-watch.ts over client-node, a fake in unit tests. */
export interface ListWatchSource {
  /** Every object in scope (raw) and the resourceVersion the list was served at. */
  list(): Promise<{ resourceVersion: string; items: unknown[] }>;
  /** Starts a watch from `resourceVersion`; resolves with a function that stops it. */
  watch(resourceVersion: string, handlers: WatchHandlers): Promise<() => void>;
}

/** What an informer needs; the store fills it from its settings. */
export interface InformerOptions<S> {
  source: ListWatchSource;
  /** Raw object → Resource; a throw skips the object (logged). */
  parse: (raw: unknown) => Resource<S>;
  log: KubeStoreLogger;
  /** Restart a watch that delivered nothing (not even a bookmark) for this long; also the limit of one list. */
  staleAfterMs: number;
  /** Delay before the n-th restart in a row. */
  backoff: Backoff;
  /** A list + watch that lasted this long resets the restart count. */
  healthyAfterMs: number;
  /** Milliseconds clock, injectable for tests. Default: Date.now. */
  now?: () => number;
}

/** How one watch ended: the reason of the restart, for the log. */
export type WatchOutcome =
  | { kind: 'closed' }
  | { kind: 'expired'; status: KubeStatus | undefined }
  | { kind: 'error-event'; status: KubeStatus | undefined }
  | { kind: 'failed'; err: unknown }
  | { kind: 'stale'; idleMs: number }
  | { kind: 'aborted' };

/**
 * The informer as the store's watch(): ADDED for every object first (sorted namespace/name),
 * then events, until `signal` aborts or the consumer stops iterating. Each call runs its own
 * list + watch, started by the first next().
 */
export async function* informerEvents<S>(options: InformerOptions<S>, outer: AbortSignal): AsyncGenerator<StoreEvent<S>, void, undefined> {
  const inner = new AbortController();
  const stop = (): void => inner.abort();
  if (outer.aborted) return;
  outer.addEventListener('abort', stop, { once: true });
  const signal = inner.signal;
  const queue: StoreEvent<S>[] = [];
  let wake: (() => void) | undefined;
  const onStop = (): void => wake?.();
  signal.addEventListener('abort', onStop, { once: true });
  void superviseInformer(options, (event) => {
    queue.push(structuredClone(event));
    wake?.();
  }, signal).catch((err: unknown) => options.log.error({ err }, 'informer crashed'));
  try {
    for (;;) {
      if (signal.aborted) return;
      const next = queue.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  } finally {
    inner.abort();
    outer.removeEventListener('abort', stop);
  }
}

/**
 * The list → watch → restart loop on the project's one retrying watch (superviseWatch): each
 * session lists, emits the difference from the cache, then streams the watch; a session's end is
 * a restart after backoff. `emit` gets each event once. Resolves when `signal` aborts.
 */
export async function superviseInformer<S>(options: InformerOptions<S>, emit: (event: StoreEvent<S>) => void, signal: AbortSignal): Promise<void> {
  const cache: ObjectCache<S> = new Map();
  let restarts = 0;
  await superviseWatch<StoreEvent<S>>({
    source: { watch: (session) => informerSession(options, cache, session, () => restarts) },
    onEvent: emit,
    signal,
    log: options.log,
    backoff: options.backoff,
    healthyMs: options.healthyAfterMs,
    ...compact({ now: options.now }),
    onRestart: () => {
      restarts++;
    },
  });
}

/** One list, its difference from the cache, then the watch from the list's resourceVersion. */
async function* informerSession<S>(options: InformerOptions<S>, cache: ObjectCache<S>, signal: AbortSignal, restarts: () => number): AsyncGenerator<StoreEvent<S>> {
  const listed = await withTimeout(options.source.list(), options.staleAfterMs, 'list');
  if (signal.aborted) return;
  const events = diffRelist(cache, parseAll(listed.items, options));
  options.log.debug({ resourceVersion: listed.resourceVersion, objects: cache.size, events: events.length, restarts: restarts() }, 'informer listed');
  yield* events;
  yield* watchStream(options, listed.resourceVersion, cache, signal);
}

/** watchOnce as a stream of events; ends by throwing WatchEnded (clean for a close or an expiry), or returns on abort. */
async function* watchStream<S>(options: InformerOptions<S>, resourceVersion: string, cache: ObjectCache<S>, signal: AbortSignal): AsyncGenerator<StoreEvent<S>> {
  const queue: StoreEvent<S>[] = [];
  let wake: (() => void) | undefined;
  let outcome: WatchOutcome | undefined;
  void watchOnce(options, resourceVersion, cache, (event) => {
    queue.push(event);
    wake?.();
  }, signal).then((ended) => {
    outcome = ended;
    wake?.();
  });
  for (;;) {
    const next = queue.shift();
    if (next !== undefined) {
      yield next;
      continue;
    }
    if (outcome !== undefined) break;
    await new Promise<void>((resolve) => {
      wake = resolve;
    });
    wake = undefined;
  }
  if (outcome.kind === 'aborted') return;
  throw new WatchEnded(describeOutcome(outcome), { clean: outcome.kind === 'closed' || outcome.kind === 'expired', ...(outcome.kind === 'failed' ? { cause: outcome.err } : {}) });
}

/** One watch from `resourceVersion`, feeding the cache, until it ends one way or another. */
function watchOnce<S>(
  options: InformerOptions<S>, resourceVersion: string, cache: ObjectCache<S>, emit: (event: StoreEvent<S>) => void, signal: AbortSignal,
): Promise<WatchOutcome> {
  const now = options.now ?? Date.now;
  return new Promise<WatchOutcome>((resolve) => {
    let settled = false;
    let stopWatch: (() => void) | undefined;
    let lastActivity = now();
    const finish = (outcome: WatchOutcome): void => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      signal.removeEventListener('abort', onAbort);
      stopWatch?.();
      resolve(outcome);
    };
    const onAbort = (): void => finish({ kind: 'aborted' });
    signal.addEventListener('abort', onAbort, { once: true });
    const watchdog = setInterval(() => {
      const idleMs = now() - lastActivity;
      if (idleMs >= options.staleAfterMs) finish({ kind: 'stale', idleMs });
    }, Math.max(10, Math.min(options.staleAfterMs / 4, 5_000)));
    watchdog.unref();
    const handlers: WatchHandlers = {
      onEvent(type, raw) {
        if (settled) return;
        lastActivity = now();
        if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') {
          const object = parseOne(raw, options);
          if (object !== undefined) for (const event of applyWatchEvent(cache, type, object)) emit(event);
        } else if (type === 'ERROR') {
          const status = parseKubeStatus(raw);
          finish(isExpired(status) ? { kind: 'expired', status } : { kind: 'error-event', status });
        } else if (type !== 'BOOKMARK' || !KubeBookmarkSchema.safeParse(raw).success) {
          options.log.warn({ type }, 'unexpected watch event skipped');
        }
      },
      onEnd(err) {
        finish(err === undefined || err === null ? { kind: 'closed' } : { kind: 'failed', err });
      },
    };
    options.source.watch(resourceVersion, handlers).then(
      (stop) => {
        stopWatch = stop;
        if (settled) stop();
      },
      (err: unknown) => finish({ kind: 'failed', err }),
    );
  });
}

function parseOne<S>(raw: unknown, options: InformerOptions<S>): Resource<S> | undefined {
  try {
    return options.parse(raw);
  } catch (err) {
    options.log.warn({ err, object: describeRaw(raw) }, 'unreadable object skipped');
    return undefined;
  }
}

function parseAll<S>(items: unknown[], options: InformerOptions<S>): Resource<S>[] {
  const objects: Resource<S>[] = [];
  for (const raw of items) {
    const object = parseOne(raw, options);
    if (object !== undefined) objects.push(object);
  }
  return objects;
}

const NamedSchema = z.object({ metadata: z.object({ name: z.string(), namespace: z.string().optional() }).loose() }).loose();

/** namespace/name of a raw object for a log line, without trusting its shape. */
function describeRaw(raw: unknown): string | undefined {
  const parsed = NamedSchema.safeParse(raw);
  return parsed.success ? `${parsed.data.metadata.namespace ?? ''}/${parsed.data.metadata.name}` : undefined;
}

/** Log fields of an outcome: its kind and, when known, the server's code and reason or the error. */
export function describeOutcome(outcome: WatchOutcome): Record<string, unknown> {
  switch (outcome.kind) {
    case 'expired':
    case 'error-event':
      return { reason: outcome.kind, code: outcome.status?.code, statusReason: outcome.status?.reason };
    case 'failed':
      return { reason: outcome.kind, err: outcome.err };
    case 'stale':
      return { reason: outcome.kind, idleMs: outcome.idleMs };
    default:
      return { reason: outcome.kind };
  }
}

/** A list that hangs (a half-open connection) must not stall the informer silently: give up after `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
