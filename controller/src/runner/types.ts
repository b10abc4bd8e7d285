// The AgentRunner seam: what the reconciler needs from "something that runs agent containers".
// PodmanAgentRunner is the real one; FakeAgentRunner (fake-runner.ts) is the in-memory fake.
import type { AgentRunSpec } from '../../../contract/apis/v1alpha1/index.ts';
import type { RunIdentity } from './names.ts';
import type { TranscriptSummary } from './stream-json.ts';

/** Everything needed to start one attempt of a run. */
export interface StartRequest {
  run: RunIdentity;
  attempt: number;
  containerName: string;
  sessionId: string;
  /** Resume the session (claude --resume) instead of creating it (claude --session-id). */
  resume: boolean;
  /**
   * Fork: `sessionId` is the new session, branched from this one. The runner copies this
   * session's HOME to the new one, so the fork can itself be resumed by its own id.
   */
  forkFrom?: string;
  spec: AgentRunSpec;
  /** The attempt's wall-clock limit; the runner also gives it to podman as a backstop. */
  deadlineSeconds: number;
  /** The W3C traceparent of the reconcile that starts the container; it gets it as TRACEPARENT. Default: none. */
  traceparent?: string;
}

/** What the runner sees of a container. */
export interface ObservedContainer {
  name: string;
  running: boolean;
  /** True once the container has ended (exited or stopped). */
  finished: boolean;
  exitCode?: number;
  oomKilled?: boolean;
  startedAt?: string;
  finishedAt?: string;
}

/** A managed container found by label (for adoption, slots and orphan sweeps). */
export interface ManagedContainer {
  name: string;
  running: boolean;
  labels: Record<string, string>;
}

/** What an ended attempt left behind. */
export interface AttemptRecord {
  summary: TranscriptSummary;
  /** The last few KB of the container's stderr (bounded, never holds a secret value we know of). */
  stderrTail: string;
  /** Where the stream-json transcript is kept. */
  logPath: string;
}

export interface AgentRunner {
  /**
   * Starts the attempt's container detached. Idempotent: when a container of that name already
   * exists it is adopted, never started twice. Throws TerminalError for what retrying cannot fix
   * (a volume outside the allowlist, a missing image).
   */
  start(request: StartRequest): Promise<void>;
  inspect(containerName: string): Promise<ObservedContainer | undefined>;
  /** Makes sure the container's stdout is being persisted to the attempt's log (idempotent). */
  follow(run: RunIdentity, attempt: number, containerName: string): void;
  /** After the container ended: waits until its whole output is persisted, and reads it. */
  collect(run: RunIdentity, attempt: number, containerName: string): Promise<AttemptRecord>;
  /** SIGTERM, then SIGKILL after graceSeconds. A missing container is not an error. */
  stop(containerName: string, graceSeconds: number): Promise<void>;
  /** Removes the container. A missing container is not an error. */
  remove(containerName: string): Promise<void>;
  /** Every container this runner manages, by label. */
  listManaged(): Promise<ManagedContainer[]>;
  /** Keeps a deleted run's logs until `deleteAfter` (epoch ms), then a sweep removes them. */
  retainLogs(run: RunIdentity, deleteAfter: number): Promise<void>;
  /** Path (or reference) of the attempt's persisted stream-json log. */
  logPath(run: RunIdentity, attempt: number): string;
}
