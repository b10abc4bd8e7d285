// The facade's ports: what the API routes need from the rest of the system, as narrow interfaces
// over the contract's own types. The entry points (cmd/) wire the controller's implementations
// behind them (the store, the log reader, controller/src/catalog/); tests wire fakes. The facade
// writes specs and reads status: nothing here starts a container.
import type { AgentRunStatus } from './apis/v1alpha1/index.ts';
import type { HealthComponent, HistoryMessage, ImageInfo, PulledImage, RegistryHit, SecretInfo, SessionSummary } from './catalog.ts';
import type { NewResource, Resource, ResourceRef, ResourceStore } from './store/store.ts';

/** Namespace + name of a run. */
export type RunRef = ResourceRef;

/** An AgentRun as the store holds it (spec unvalidated, status written by the controller). */
export type StoredRun = Resource<AgentRunStatus>;

/** What the facade gives the store to create a run. */
export type NewRun = NewResource;

/** The part of the controller's ResourceStore the facade uses: it never writes status or finalizers. */
export type RunStore = Pick<ResourceStore<AgentRunStatus>, 'list' | 'listPage' | 'get' | 'create' | 'patchSpec' | 'delete' | 'watch'>;

/** A manifest the store could not turn into a run (file stores only). */
export interface ManifestProblem {
  path: string;
  error: string;
}

export interface LogReader {
  /**
   * The attempt's stream-json lines from `fromLine` (0-based), then, with follow, new lines as
   * they are persisted, until the run is finished or `signal` aborts.
   */
  lines(run: StoredRun, options: { attempt?: number; follow: boolean; fromLine?: number; signal: AbortSignal }): AsyncIterable<string>;
}

/** How async jobs' webhooks are sent. */
export interface WebhookSettings {
  /** HMAC-SHA256 key of X-Stromboli-Signature (Stromboli's webhook.signing_secret). Default: none, unsigned. */
  signingSecret?: string;
  /** Allow targets on loopback, link-local and private addresses (Stromboli allows any). Default false. */
  allowPrivateTargets?: boolean;
}

/** /health components and /claude/status (controller/src/catalog/health.ts). */
export interface HealthPort {
  /** Never throws: a failing dependency is a component with status 'error'. */
  check(): Promise<HealthComponent[]>;
  /** Whether runs get Claude credentials. */
  claudeConfigured(): Promise<boolean>;
}

/** /sessions* (controller/src/catalog/sessions.ts). */
export interface SessionPort {
  list(): Promise<SessionSummary[]>;
  /** False when absent; ValidationError for a malformed id; ConflictError while a run uses it. */
  remove(id: string): Promise<boolean>;
  /** Undefined when the session has no transcript; ValidationError for a malformed id. */
  history(id: string): Promise<HistoryMessage[] | undefined>;
}

/** /secrets* (controller/src/catalog/secrets.ts). */
export interface SecretPort {
  list(): Promise<SecretInfo[]>;
  /** Undefined when absent; ValidationError for a malformed name. */
  get(name: string): Promise<SecretInfo | undefined>;
  /** ALREADY_EXISTS when the name is taken; ValidationError for a bad name or value. */
  create(name: string, value: string): Promise<void>;
  /** False when absent. */
  remove(name: string): Promise<boolean>;
}

/** /images* (controller/src/catalog/images.ts). */
export interface ImagePort {
  list(): Promise<ImageInfo[]>;
  /** Undefined when no local image has that name; ValidationError for a malformed name. */
  get(ref: string): Promise<ImageInfo | undefined>;
}

/**
 * /images/search and /images/pull against the one configured registry
 * (controller/src/catalog/registry.ts). Failures: ValidationError for a malformed name or one of
 * another registry; UPSTREAM_FAILED when the registry cannot be searched; a command failure when
 * the pull fails.
 */
export interface RegistryPort {
  /** HOST[:PORT] of the registry, e.g. 127.0.0.1:5000. */
  readonly registry: string;
  search(query: { term: string; limit: number; noTrunc: boolean }): Promise<RegistryHit[]>;
  pull(request: { image: string; platform?: string }): Promise<PulledImage>;
}

/** Everything buildApp needs. */
export interface Ports {
  runs: RunStore;
  logs: LogReader;
  /** Manifest problems, when the store has any to report. */
  problems?: () => ManifestProblem[];
  /** Default namespace for requests that name none. */
  defaultNamespace?: string;
  /** /health components and /claude/status. Absent: /health answers ok without components. */
  health?: HealthPort;
  /** /sessions*. Absent: those routes are not served. */
  sessions?: SessionPort;
  /** /secrets*. Absent: those routes are not served. */
  secrets?: SecretPort;
  /** /images*. Absent: those routes are not served. */
  images?: ImagePort;
  /** /images/search and /images/pull. Absent: both answer 503 (no registry is configured). */
  registry?: RegistryPort;
  /** Webhooks of async jobs (POST /run/async). Absent: unsigned, private targets refused. */
  webhooks?: WebhookSettings;
}

export type { HealthComponent, HistoryMessage, ImageInfo, PulledImage, RegistryHit, SecretInfo, SessionSummary };
