// What the routes need from the rest of the system, as narrow interfaces. main.ts wires the
// concrete store and log reader behind them; tests pass fakes. The facade writes specs and reads
// status: nothing here starts a container.
import type { AgentRunStatus } from './apis/v1alpha1/index.ts';

export interface RunRef {
  namespace: string;
  name: string;
}

/** An AgentRun as the store holds it (spec unvalidated, status written by the controller). */
export interface StoredRun {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation: number;
    resourceVersion: string;
    creationTimestamp: string;
    deletionTimestamp?: string;
    finalizers?: string[];
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: unknown;
  status?: AgentRunStatus;
}

export interface NewRun {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; generateName?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: unknown;
}

/** The subset of the controller's ResourceStore the facade uses. */
export interface RunStore {
  list(options?: { namespace?: string; labels?: Record<string, string> }): Promise<StoredRun[]>;
  get(ref: RunRef): Promise<StoredRun>;
  create(run: NewRun): Promise<StoredRun>;
  patchSpec(ref: RunRef, patch: Record<string, unknown>, resourceVersion?: string): Promise<StoredRun>;
  delete(ref: RunRef): Promise<void>;
  watch(signal: AbortSignal): AsyncIterable<{ type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: StoredRun }>;
}

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
  /** Webhooks of async jobs (POST /run/async). Absent: unsigned, private targets refused. */
  webhooks?: WebhookSettings;
}

/** How async jobs' webhooks are sent. */
export interface WebhookSettings {
  /** HMAC-SHA256 key of X-Stromboli-Signature (Stromboli's webhook.signing_secret). Default: none, unsigned. */
  signingSecret?: string;
  /** Allow targets on loopback, link-local and private addresses (Stromboli allows any). Default false. */
  allowPrivateTargets?: boolean;
}

// ---- Catalog ports (health, sessions, secrets, images): controller/src/catalog implements them.

export interface HealthComponent {
  name: string;
  status: 'ok' | 'error';
  error?: string;
}

export interface HealthPort {
  /** Never throws: a failing dependency is a component with status 'error'. */
  check(): Promise<HealthComponent[]>;
  /** Whether runs get Claude credentials. */
  claudeConfigured(): Promise<boolean>;
}

/** One line of a session transcript (camelCase; the routes give it Stromboli's snake_case). */
export interface HistoryMessage {
  type: string;
  uuid?: string;
  parentUuid?: string;
  sessionId?: string;
  timestamp?: string;
  cwd?: string;
  gitBranch?: string;
  version?: string;
  permissionMode?: string;
  content?: {
    role?: string;
    model?: string;
    messageId?: string;
    blocks: Array<{ type: string; text?: string; id?: string; name?: string; input?: Record<string, unknown>; toolUseId?: string; content?: string; isError?: boolean }>;
    stopReason?: string;
    usage?: { inputTokens: number; outputTokens: number; cacheCreationInputTokens: number; cacheReadInputTokens: number };
  };
  toolResult?: { stdout?: string; stderr?: string; interrupted?: boolean; isImage?: boolean };
}

export interface SessionPort {
  list(): Promise<Array<{ id: string; title: string }>>;
  /** False when absent; ValidationError for a malformed id; ConflictError while a run uses it. */
  remove(id: string): Promise<boolean>;
  /** Undefined when the session has no transcript; ValidationError for a malformed id. */
  history(id: string): Promise<HistoryMessage[] | undefined>;
}

export interface SecretInfo {
  id: string;
  name: string;
  createdAt?: string;
}

export interface SecretPort {
  list(): Promise<SecretInfo[]>;
  /** Undefined when absent; ValidationError for a malformed name. */
  get(name: string): Promise<SecretInfo | undefined>;
  /** ALREADY_EXISTS when the name is taken; ValidationError for a bad name or value. */
  create(name: string, value: string): Promise<void>;
  /** False when absent. */
  remove(name: string): Promise<boolean>;
}

export interface ImageInfo {
  id: string;
  repository: string;
  tag: string;
  sizeBytes: number;
  created?: string;
  rank: 1 | 2 | 3 | 4;
  compatible: boolean;
  hasClaudeCli: boolean;
  description?: string;
}

export interface ImagePort {
  list(): Promise<ImageInfo[]>;
  /** Undefined when no local image has that name; ValidationError for a malformed name. */
  get(ref: string): Promise<ImageInfo | undefined>;
}
