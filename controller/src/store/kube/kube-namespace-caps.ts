// KubeNamespaceCaps: the stromboli.dev/max-running-runs annotation of a Namespace (CoreV1Api, one
// GET per namespace at most every cacheMs). An agent that may not read the Namespace (no RBAC) or
// finds none applies no cap, and says so once per namespace.
import { CoreV1Api } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import type { NamespaceCaps } from '../../agentrun/namespace-cap.ts';
import { MAX_RUNNING_RUNS_ANNOTATION, parseCap } from '../../agentrun/namespace-cap.ts';
import { toStoreError } from './kube-errors.ts';

/** Default cacheMs: how long a namespace's cap is reused before it is read again. */
export const DEFAULT_CAP_CACHE_MS = 10_000;

export interface KubeNamespaceCapsOptions {
  kubeConfig: KubeConfig;
  log: { warn(fields: object, msg: string): void };
  /** Default DEFAULT_CAP_CACHE_MS (10 s). */
  cacheMs?: number;
  /** Epoch ms. Default Date.now. */
  now?: () => number;
}

export class KubeNamespaceCaps implements NamespaceCaps {
  readonly #api: CoreV1Api;
  readonly #o: KubeNamespaceCapsOptions;
  readonly #cache = new Map<string, { cap: number | undefined; at: number }>();
  readonly #warned = new Set<string>();

  constructor(options: KubeNamespaceCapsOptions) {
    this.#o = options;
    this.#api = options.kubeConfig.makeApiClient(CoreV1Api);
  }

  async capOf(namespace: string): Promise<number | undefined> {
    const now = (this.#o.now ?? Date.now)();
    const cached = this.#cache.get(namespace);
    if (cached !== undefined && now - cached.at < (this.#o.cacheMs ?? DEFAULT_CAP_CACHE_MS)) return cached.cap;
    let cap: number | undefined;
    try {
      const ns = await this.#api.readNamespace({ name: namespace });
      const value = ns.metadata?.annotations?.[MAX_RUNNING_RUNS_ANNOTATION];
      cap = parseCap(value);
      if (value !== undefined && cap === undefined) this.#warnOnce(namespace, { value }, 'namespace cap annotation is not a whole number: no cap applied');
    } catch (err) {
      this.#warnOnce(namespace, { err: toStoreError(err, 'read namespace for its run cap') }, 'cannot read the namespace for its run cap: no cap applied');
      cap = undefined;
    }
    this.#cache.set(namespace, { cap, at: now });
    return cap;
  }

  #warnOnce(namespace: string, fields: object, msg: string): void {
    if (this.#warned.has(namespace)) return;
    this.#warned.add(namespace);
    this.#o.log.warn({ namespace, ...fields }, msg);
  }
}
