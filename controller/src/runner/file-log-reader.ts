// The facade's LogReader over the state directory: replays an attempt's persisted transcript and,
// when asked to follow, keeps reading while the run is not finished. What the embedded server's
// streams and `stromboli logs -f` read. conmon's k8s file (the REST path) or the follower's jsonl
// (the CLI path), numbered alike, scrubbed either way.
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { isTerminalPhase } from '../../../contract/apis/v1alpha1/index.ts';
import type { LogReader, StoredRun } from '../../../contract/ports.ts';
import type { ResourceStore } from '../../../contract/store/store.ts';
import { refOf } from '../../../contract/store/store.ts';
import type { LogStore } from './log-store.ts';
import { tailTranscript } from './log-tail.ts';
import { compact } from '../../../contract/compact.ts';

/** Lines of the attempt's log; with follow, until the run is finished, replaced, or on to a later attempt. */
export function fileLogReader(store: Pick<ResourceStore<AgentRunStatus>, 'get'>, logs: LogStore): LogReader {
  return {
    lines(run: StoredRun, options) {
      const attempt = options.attempt ?? run.status?.attempt ?? 1;
      const identity = { namespace: run.metadata.namespace, name: run.metadata.name, uid: run.metadata.uid };
      const follow = async (): Promise<boolean> => {
        if (!options.follow) return false;
        try {
          const current = await store.get(refOf(run));
          if (current.metadata.uid !== run.metadata.uid) return false;
          if (isTerminalPhase(current.status?.phase)) return false;
          // A retry moved on to a later attempt: this attempt's log is complete.
          return (current.status?.attempt ?? 1) <= attempt;
        } catch {
          return false;
        }
      };
      const paths = { k8s: logs.k8sPath(identity, attempt), jsonl: logs.stdoutPath(identity, attempt) };
      return tailTranscript(paths, { follow, signal: options.signal, ...compact({ fromLine: options.fromLine }) });
    },
  };
}
