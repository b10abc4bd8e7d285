// KubeRunEvents: the reconciler's RunEvents over events.k8s.io/v1, so `kubectl describe ar NAME`
// and `kubectl get events` tell a run's story. The JS client has no event recorder
// (kubernetes-conventions §2.5), so this one keeps it small and never spams:
// - the reconciler records only transitions (a changed phase or reason), never one per reconcile;
// - the same event again within repeatWindowMs bumps the first one's `series` (count,
//   lastObservedTime) instead of creating another (kubectl shows "x3 over 2m");
// - each run has a budget (burst 25, then one per 5 minutes, client-go's numbers); past it, events
//   are dropped with a debug line.
// record() returns at once; requests run in the background, one at a time per run, and a failure
// (no RBAC for events, API server down) is logged, warn the first time and debug after, never
// thrown: an event is never worth a failed reconcile.

import { EventsV1Api, PatchStrategy, V1MicroTime, setHeaderOptions } from '@kubernetes/client-node';
import type { EventsV1Event, KubeConfig } from '@kubernetes/client-node';
import type { AgentRunStatus } from '../../../../contract/apis/v1alpha1/index.ts';
import type { Resource } from '../../../../contract/store/store.ts';
import type { RunEvent, RunEvents } from '../../agentrun/run-events.ts';
import { toStoreError } from './kube-errors.ts';
import type { KubeStoreLogger } from './kube-store-options.ts';

/** reportingController of every event (the Kubernetes convention: a domain-qualified name). */
export const REPORTING_CONTROLLER = 'stromboli.dev/controller';
/** Default repeatWindowMs: an identical event within 10 minutes is counted on the first one. */
export const DEFAULT_REPEAT_WINDOW_MS = 10 * 60_000;
/** Default burst of events per run before the refill rate applies. */
export const DEFAULT_EVENT_BURST = 25;
/** Default refillMs: one more event per run every 5 minutes once the burst is spent. */
export const DEFAULT_EVENT_REFILL_MS = 5 * 60_000;

const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** The two calls the recorder makes (EventsV1Api's), so tests can stand in for the API server. */
export type EventsClient = Pick<EventsV1Api, 'createNamespacedEvent' | 'patchNamespacedEvent'>;

export interface KubeRunEventsOptions {
  /** How to reach the API server. Ignored when `api` is given. */
  kubeConfig?: KubeConfig;
  /** The events API. Default: an EventsV1Api over kubeConfig. */
  api?: EventsClient;
  /** reportingInstance: this node agent's node name. */
  reportingInstance: string;
  log: KubeStoreLogger;
  /** Default DEFAULT_REPEAT_WINDOW_MS. */
  repeatWindowMs?: number;
  /** Default DEFAULT_EVENT_BURST. */
  burst?: number;
  /** Default DEFAULT_EVENT_REFILL_MS. */
  refillMs?: number;
  /** Injectable clock (epoch ms). */
  now?: () => number;
}

interface Recorded {
  namespace: string;
  name: string;
  count: number;
  lastMs: number;
}

interface Budget {
  tokens: number;
  updatedMs: number;
}

export class KubeRunEvents implements RunEvents {
  readonly #api: EventsClient;
  readonly #instance: string;
  readonly #log: KubeStoreLogger;
  readonly #windowMs: number;
  readonly #burst: number;
  readonly #refillMs: number;
  readonly #now: () => number;
  /** Identical events recently recorded, by run uid + type + reason + message. */
  readonly #recent = new Map<string, Recorded>();
  readonly #budgets = new Map<string, Budget>();
  /** The tail of each run's request chain, so a series patch follows its create. */
  readonly #chains = new Map<string, Promise<void>>();
  #sequence = 0;
  #warned = false;

  constructor(options: KubeRunEventsOptions) {
    const api = options.api ?? options.kubeConfig?.makeApiClient(EventsV1Api);
    if (api === undefined) throw new TypeError('KubeRunEvents needs kubeConfig or api');
    this.#api = api;
    this.#instance = options.reportingInstance;
    this.#log = options.log;
    this.#windowMs = options.repeatWindowMs ?? DEFAULT_REPEAT_WINDOW_MS;
    this.#burst = options.burst ?? DEFAULT_EVENT_BURST;
    this.#refillMs = options.refillMs ?? DEFAULT_EVENT_REFILL_MS;
    this.#now = options.now ?? Date.now;
  }

  record(run: Resource<AgentRunStatus>, event: RunEvent): void {
    const now = this.#now();
    this.#prune(now);
    const { uid, namespace, name } = run.metadata;
    const key = `${uid}\u0000${event.type}\u0000${event.reason}\u0000${event.message}`;
    const seen = this.#recent.get(key);
    if (seen !== undefined) {
      seen.count += 1;
      seen.lastMs = now;
      // Kept in order of last use, so #prune stops at the first recent one.
      this.#recent.delete(key);
      this.#recent.set(key, seen);
      const series = { count: seen.count, lastObservedTime: new V1MicroTime(now) };
      this.#enqueue(uid, 'update event series', () =>
        this.#api.patchNamespacedEvent({ namespace: seen.namespace, name: seen.name, body: { series } }, MERGE_PATCH));
      return;
    }
    if (!this.#take(uid, now)) {
      this.#log.debug({ run: `${namespace}/${name}`, reason: event.reason }, 'event dropped: too many events for this run');
      return;
    }
    const eventName = `${name.slice(0, 200)}.${(BigInt(now) * 1_000_000n + BigInt(this.#sequence++ % 1_000_000)).toString(16)}`;
    this.#recent.set(key, { namespace, name: eventName, count: 1, lastMs: now });
    const body: EventsV1Event = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: eventName, namespace },
      eventTime: new V1MicroTime(now),
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: this.#instance,
      action: event.action,
      reason: event.reason,
      type: event.type,
      note: event.message.slice(0, 1024),
      regarding: { apiVersion: run.apiVersion, kind: run.kind, namespace, name, uid, resourceVersion: run.metadata.resourceVersion },
    };
    this.#enqueue(uid, 'create event', () => this.#api.createNamespacedEvent({ namespace, body }));
  }

  /** Resolves once every event recorded so far was sent (or failed); for shutdown and tests. */
  async flush(): Promise<void> {
    await Promise.all([...this.#chains.values()]);
  }

  #enqueue(uid: string, what: string, request: () => Promise<unknown>): void {
    const previous = this.#chains.get(uid) ?? Promise.resolve();
    const next = previous.then(async () => {
      try {
        await request();
      } catch (err) {
        const error = toStoreError(err, what);
        if (this.#warned) this.#log.debug({ err: error }, 'event not recorded');
        else this.#log.warn({ err: error }, 'event not recorded (events are optional: runs go on; check RBAC for events.k8s.io)');
        this.#warned = true;
      }
    });
    this.#chains.set(uid, next);
    void next.then(() => {
      if (this.#chains.get(uid) === next) this.#chains.delete(uid);
    });
  }

  /** Token bucket per run: `burst` events, then one per refillMs. */
  #take(uid: string, now: number): boolean {
    const budget = this.#budgets.get(uid) ?? { tokens: this.#burst, updatedMs: now };
    const refilled = Math.min(this.#burst, budget.tokens + Math.floor((now - budget.updatedMs) / this.#refillMs));
    if (refilled > budget.tokens) {
      budget.tokens = refilled;
      budget.updatedMs = now;
    }
    this.#budgets.set(uid, budget);
    if (budget.tokens < 1) return false;
    budget.tokens -= 1;
    return true;
  }

  /** Forgets repeats older than the window and budgets that are full again. */
  #prune(now: number): void {
    for (const [key, recorded] of this.#recent) {
      if (now - recorded.lastMs <= this.#windowMs) break;
      this.#recent.delete(key);
    }
    if (this.#budgets.size > 1000) {
      for (const [uid, budget] of this.#budgets) if (now - budget.updatedMs > this.#refillMs * this.#burst) this.#budgets.delete(uid);
    }
  }
}
