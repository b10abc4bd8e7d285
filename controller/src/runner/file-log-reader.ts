// The facade's LogReader over the state directory: replays an attempt's persisted transcript and,
// when asked to follow, keeps reading while the run is not finished. What the embedded server's
// streams and `stromboli logs -f` read, and what a node agent's log endpoint serves to a facade
// in Kubernetes mode (attemptLogSource). conmon's k8s file (the REST path) or the follower's
// jsonl (the CLI path), numbered alike, scrubbed either way.
import { stat } from 'node:fs/promises';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { isTerminalPhase } from '../../../contract/apis/v1alpha1/index.ts';
import { isAppError } from '../../../contract/errors.ts';
import type { LogReader, StoredRun } from '../../../contract/ports.ts';
import type { ResourceStore } from '../../../contract/store/store.ts';
import type { LogStore } from './log-store.ts';
import { tailTranscript } from './log-tail.ts';
import type { RunIdentity } from './names.ts';
import { compact } from '../../../contract/compact.ts';

/** How one attempt's lines are read. */
export interface AttemptReadOptions {
  follow: boolean;
  /** Skip this many lines first. Default 0. */
  fromLine?: number;
  signal: AbortSignal;
}

type RunGetter = Pick<ResourceStore<AgentRunStatus>, 'get'>;

/** Whether a follower of `attempt` should keep waiting: the run is the same, unfinished, and still on that attempt. */
async function stillWriting(store: RunGetter, run: RunIdentity, attempt: number): Promise<boolean> {
  try {
    const current = await store.get(run);
    if (current.metadata.uid !== run.uid) return false;
    if (isTerminalPhase(current.status?.phase)) return false;
    // A retry moved on to a later attempt: this attempt's log is complete.
    return (current.status?.attempt ?? 1) <= attempt;
  } catch {
    return false;
  }
}

function attemptLines(store: RunGetter, logs: LogStore, run: RunIdentity, attempt: number, options: AttemptReadOptions): AsyncGenerator<string> {
  const follow = async (): Promise<boolean> => options.follow && (await stillWriting(store, run, attempt));
  const paths = { k8s: logs.k8sPath(run, attempt), jsonl: logs.stdoutPath(run, attempt) };
  return tailTranscript(paths, { follow, signal: options.signal, ...compact({ fromLine: options.fromLine }) });
}

/** Lines of the attempt's log; with follow, until the run is finished, replaced, or on to a later attempt. */
export function fileLogReader(store: RunGetter, logs: LogStore): LogReader {
  return {
    lines(run: StoredRun, options) {
      const attempt = options.attempt ?? run.status?.attempt ?? 1;
      const identity = { namespace: run.metadata.namespace, name: run.metadata.name, uid: run.metadata.uid };
      return attemptLines(store, logs, identity, attempt, options);
    },
  };
}

/** An attempt's log by run identity, for a node agent's log endpoint (api-server/src/node-logs/). */
export interface AttemptLogSource {
  /** The attempt's lines, or undefined when this node knows neither the run (by uid) nor a log of it. */
  open(run: RunIdentity, attempt: number, options: AttemptReadOptions): Promise<AsyncIterable<string> | undefined>;
}

/** The attempt logs of this node's state directory: a deleted run's retained log is still served (without follow). */
export function attemptLogSource(store: RunGetter, logs: LogStore): AttemptLogSource {
  return {
    async open(run, attempt, options) {
      const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);
      const hasLog = (await exists(logs.stdoutPath(run, attempt))) || (await exists(logs.k8sPath(run, attempt)));
      if (!hasLog) {
        let known = false;
        try {
          known = (await store.get(run)).metadata.uid === run.uid;
        } catch (err) {
          if (!(isAppError(err) && err.code === 'NOT_FOUND')) throw err;
        }
        if (!known) return undefined;
      }
      return attemptLines(store, logs, run, attempt, options);
    },
  };
}
