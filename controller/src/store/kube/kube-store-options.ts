// KubeStore's options and their defaults, each named so docs and callers can refer to it.
// resolveKubeStoreSettings fills them in once; the store's parts share the result.

import type { KubeConfig } from '@kubernetes/client-node';
import { GROUP, KIND, PLURAL, VERSION } from '../../../../contract/apis/v1alpha1/index.ts';
import type { BackoffOptions } from '../../../../contract/backoff.ts';
import type { ParseStatus } from './kube-object.ts';
import type { LogSink } from '../../../../contract/logger.ts';

/** The levels of a logger the store uses, so it does not depend on pino. */
export type KubeStoreLogger = LogSink;

/** Options of KubeStore; every field is optional and the caller's object is never changed. */
export interface KubeStoreOptions<S> {
  /** How to reach the API server. Default: loadKubeConfig() (kube-config.ts: $KUBECONFIG, in-cluster, ~/.kube/config). */
  kubeConfig?: KubeConfig;
  /** API group of the CRD. Default: 'stromboli.dev'. */
  group?: string;
  /** Served version the store reads and writes. Default: 'v1alpha1'. */
  version?: string;
  /** Resource plural in URLs. Default: 'agentruns'. */
  plural?: string;
  /** kind of the objects (sent on status replace). Default: 'AgentRun'. */
  kind?: string;
  /** The one namespace the store works in; undefined watches and lists all namespaces. Default: undefined (all). */
  namespace?: string;
  /** Namespace of a create() without metadata.namespace when no `namespace` is set. Default: 'default'. */
  defaultNamespace?: string;
  /** Checks a status read from the server; a throw makes that object unreadable (logged, skipped). Default: trusts it (the CRD schema validated it). */
  parseStatus?: ParseStatus<S>;
  /** Where watch restarts and skipped objects are reported. Default: a logger that drops everything. */
  log?: KubeStoreLogger;
  /** fieldManager of every write (visible in managedFields). Default: 'stromboli-controller'. */
  fieldManager?: string;
  /** A watch with no event and no bookmark for this long is restarted (relist + watch). Default: 300_000 (5 min). */
  staleAfterMs?: number;
  /** Server-side watch timeout, jittered up to twice this; its end is a relist, so this is also the resync. Default: 300 (5 min). */
  watchTimeoutSeconds?: number;
  /** Backoff between watch restarts. Default: DEFAULT_KUBE_WATCH_BACKOFF (1 s doubling to 30 s, equal jitter). */
  watchBackoff?: BackoffOptions;
  /** A watch that lived this long was healthy: its next restart starts the backoff from the base. Default: 60_000. */
  healthyWatchMs?: number;
  /** Page size of list requests (limit/continue). Default: 500. */
  listPageSize?: number;
}

/** Default backoff between watch restarts: the API server is not hit more than once a second by a broken watch. */
export const DEFAULT_KUBE_WATCH_BACKOFF: Readonly<BackoffOptions> = { baseMs: 1_000, capMs: 30_000 };
/** Default staleAfterMs: bookmarks come about once a minute, so five silent minutes mean a dead watch. */
export const DEFAULT_STALE_AFTER_MS = 300_000;
/** Default watchTimeoutSeconds: client-go's reflector uses 5 to 10 minutes too. */
export const DEFAULT_WATCH_TIMEOUT_SECONDS = 300;
/** Default healthyWatchMs, as the reconcile loop's WATCH_HEALTHY_MS. */
export const DEFAULT_HEALTHY_WATCH_MS = 60_000;
/** Default listPageSize. */
export const DEFAULT_LIST_PAGE_SIZE = 500;
/** Default fieldManager. */
export const DEFAULT_FIELD_MANAGER = 'stromboli-controller';

/** The options with every default filled in (kubeConfig excepted: the store loads it lazily). */
export interface KubeStoreSettings<S> {
  group: string;
  version: string;
  plural: string;
  kind: string;
  /** `${group}/${version}`. */
  apiVersion: string;
  namespace: string | undefined;
  defaultNamespace: string;
  parseStatus: ParseStatus<S>;
  log: KubeStoreLogger;
  fieldManager: string;
  staleAfterMs: number;
  watchTimeoutSeconds: number;
  watchBackoff: BackoffOptions;
  healthyWatchMs: number;
  listPageSize: number;
}

const silent: KubeStoreLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** Applies the documented defaults; throws RangeError at once for a value that cannot work. */
export function resolveKubeStoreSettings<S>(options: KubeStoreOptions<S>): KubeStoreSettings<S> {
  const group = options.group ?? GROUP;
  const version = options.version ?? VERSION;
  const settings: KubeStoreSettings<S> = {
    group,
    version,
    plural: options.plural ?? PLURAL,
    kind: options.kind ?? KIND,
    apiVersion: `${group}/${version}`,
    namespace: options.namespace,
    defaultNamespace: options.defaultNamespace ?? 'default',
    parseStatus: options.parseStatus ?? trustServerStatus,
    log: options.log ?? silent,
    fieldManager: options.fieldManager ?? DEFAULT_FIELD_MANAGER,
    staleAfterMs: options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS,
    watchTimeoutSeconds: options.watchTimeoutSeconds ?? DEFAULT_WATCH_TIMEOUT_SECONDS,
    watchBackoff: { ...DEFAULT_KUBE_WATCH_BACKOFF, ...options.watchBackoff },
    healthyWatchMs: options.healthyWatchMs ?? DEFAULT_HEALTHY_WATCH_MS,
    listPageSize: options.listPageSize ?? DEFAULT_LIST_PAGE_SIZE,
  };
  positive('staleAfterMs', settings.staleAfterMs);
  positive('watchTimeoutSeconds', settings.watchTimeoutSeconds);
  positive('healthyWatchMs', settings.healthyWatchMs);
  if (!Number.isInteger(settings.listPageSize) || settings.listPageSize < 1) throw new RangeError(`KubeStore listPageSize must be an integer >= 1, got ${settings.listPageSize}`);
  return settings;
}

/** The default parseStatus: the CRD's structural schema already validated what the server holds. */
function trustServerStatus<S>(value: unknown): S {
  return value as S;
}

function positive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`KubeStore ${name} must be a finite number > 0, got ${value}`);
}
