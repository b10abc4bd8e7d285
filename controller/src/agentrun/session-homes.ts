// Where a session's HOME is, for session affinity (docs/multi-node.md): the I/O behind
// decideSessionClaim (claims.ts). A session's HOME is sessions/<id> in the state directory of the
// agent that ran it; the runs of that session say which agent that was (status.node).
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import type { Resource, ResourceStore } from '../../../contract/store/store.ts';

/** What the reconciler asks before it claims a run that resumes a session. */
export interface SessionHomes {
  /** True when the sessions directory is on storage every agent shares: any agent takes the run. */
  readonly shared: boolean;
  /** True when this agent's state directory holds the session's HOME. */
  hasLocal(session: string): Promise<boolean>;
  /** status.node of the latest run of `session` in `namespace` other than `exceptUid` that names a node; undefined when none does. */
  homeOf(namespace: string, session: string, exceptUid: string): Promise<string | undefined>;
  /** Whether `node`'s Lease is live now; undefined when not known yet. */
  isLive(node: string): boolean | undefined;
}

export interface StoreSessionHomesOptions {
  store: Pick<ResourceStore<AgentRunStatus>, 'list'>;
  /** This agent's session directories (SessionDirs). */
  sessions: { exists(id: string): Promise<boolean> };
  /** Whether a node's Lease is live, as the node janitor measures it (its own clock). */
  isLive(node: string): boolean | undefined;
  /** The sessions directory is shared by every agent. Default false. */
  shared?: boolean;
}

/** SessionHomes over the store (one list of the run's namespace per look) and this agent's session directories. */
export class StoreSessionHomes implements SessionHomes {
  readonly shared: boolean;
  readonly #o: StoreSessionHomesOptions;

  constructor(options: StoreSessionHomesOptions) {
    this.#o = options;
    this.shared = options.shared ?? false;
  }

  hasLocal(session: string): Promise<boolean> {
    return this.#o.sessions.exists(session);
  }

  async homeOf(namespace: string, session: string, exceptUid: string): Promise<string | undefined> {
    const runs = await this.#o.store.list({ namespace });
    return latestHomeOf(runs, session, exceptUid);
  }

  isLive(node: string): boolean | undefined {
    return this.#o.isLive(node);
  }
}

/** The node of the latest run (by start, else creation) of `session` that names one, leaving out `exceptUid`. */
export function latestHomeOf(runs: readonly Resource<AgentRunStatus>[], session: string, exceptUid: string): string | undefined {
  let best: { node: string; at: number } | undefined;
  for (const run of runs) {
    const node = run.status?.node;
    if (run.metadata.uid === exceptUid || run.status?.sessionId !== session || node === undefined || node === '') continue;
    const at = Date.parse(run.status?.startTime ?? run.metadata.creationTimestamp) || 0;
    if (best === undefined || at >= best.at) best = { node, at };
  }
  return best?.node;
}
