// /sessions of the facade in Kubernetes mode. A session is a directory on the node whose agent ran
// it (the container's HOME), so the facade alone can only say which sessions the runs of its
// namespace name (status.sessionId, most recent run first); titles, transcripts and deleting need
// that node and answer 503 with the route's own error body (docs/compatibility.md).
import { SessionIdSchema } from '../../../contract/apis/v1alpha1/index.ts';
import { AppError, ValidationError } from '../../../contract/errors.ts';
import type { HistoryMessage, RunStore, SessionPort, SessionSummary } from '../../../contract/ports.ts';

/** Why history and delete are not served: the message of their 503. */
export const SESSIONS_ON_NODES = 'sessions live on the node agents in Kubernetes mode: this server lists the sessions its runs name, but cannot read or delete one';

export interface ClusterSessionsOptions {
  runs: Pick<RunStore, 'list'>;
  /** The facade's namespace. */
  namespace: string;
}

export class ClusterSessions implements SessionPort {
  readonly #runs: Pick<RunStore, 'list'>;
  readonly #namespace: string;

  constructor(options: ClusterSessionsOptions) {
    this.#runs = options.runs;
    this.#namespace = options.namespace;
  }

  /** The sessions named by the namespace's runs, most recently created run first; titles are '' (the transcript is on a node). */
  async list(): Promise<SessionSummary[]> {
    const runs = await this.#runs.list({ namespace: this.#namespace });
    const newestFirst = [...runs].sort((a, b) => b.metadata.creationTimestamp.localeCompare(a.metadata.creationTimestamp));
    const seen = new Set<string>();
    const out: SessionSummary[] = [];
    for (const run of newestFirst) {
      const id = run.status?.sessionId;
      if (id === undefined || seen.has(id)) continue;
      seen.add(id);
      out.push({ id, title: '' });
    }
    return out;
  }

  async remove(id: string): Promise<boolean> {
    check(id);
    throw new AppError('UNAVAILABLE', SESSIONS_ON_NODES);
  }

  async history(id: string): Promise<HistoryMessage[] | undefined> {
    check(id);
    throw new AppError('UNAVAILABLE', SESSIONS_ON_NODES);
  }
}

function check(id: string): void {
  if (!SessionIdSchema.safeParse(id).success) throw new ValidationError('invalid session ID');
}
