// What the routes need from the rest of the system, as narrow interfaces. main.ts wires the
// concrete store and log reader behind them; tests pass fakes. The facade writes specs and reads
// status: nothing here starts a container.
import type { AgentRunStatus } from '../../controller/src/apis/v1alpha1/index.ts';

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
}
