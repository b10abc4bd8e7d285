// The cluster's janitor (Kubernetes mode, docs/multi-node.md): the one agent holding the janitor
// role's Lease looks at the node Leases; the runs of a node whose Lease expired (or that has
// none) are failed over once per cluster: unfinished ones end Failed NodeLost or go back to
// Pending for another agent (claims.ts decideNodeLoss), finished ones past their TTL are
// deleted, and a deletion waiting on that node's finalizer completes. Every write carries the
// run's resourceVersion, so a node that renewed in the meantime and wrote first wins.
//
// Expiry is measured the way client-go's leader election does, by this process's clock since it
// last saw the Lease change (not by the renewTime another host's clock wrote), and every agent
// observes, leader or not, so a new leader knows how long each Lease has been still. When this
// agent cannot read the Leases (the API server is down), it has seen nothing: once it can again,
// every Lease gets a full duration from then, so an API server outage longer than the Lease
// never fails over nodes that only could not renew through it.
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { ConflictError, NotFoundError } from '../../../contract/errors.ts';
import type { ResourceStore } from '../../../contract/store/store.ts';
import { keyOf, refOf } from '../../../contract/store/store.ts';
import type { Logger } from '../reconcile/types.ts';
import { decideNodeLoss } from './claims.ts';
import type { LeaseRecord, LeaseStore } from './leases.ts';
import { parseSpec } from './reconciler.ts';
import { noRunEvents, transitionEvent } from './run-events.ts';
import type { RunEvents } from './run-events.ts';
import { nextStatus } from './status.ts';

/** Default intervalMs: how often the leader looks at the node Leases (they are few and small). */
export const DEFAULT_NODE_CHECK_MS = 2_000;
/** Default rescanMs: how often the runs of nodes already failed over are looked at again (their TTLs). */
export const DEFAULT_RESCAN_MS = 5 * 60 * 1000;

export interface NodeJanitorOptions {
  store: Pick<ResourceStore<AgentRunStatus>, 'list' | 'updateStatus' | 'setFinalizers' | 'delete'>;
  leases: Pick<LeaseStore, 'listNodeLeases'>;
  /** The janitor role's Lease: work is done only while it is held. */
  leader: { held(): boolean };
  /** How long a node with no Lease at all must stay without one (observed) before its runs are failed over, in s. */
  leaseDurationSeconds: number;
  log: Pick<Logger, 'info' | 'warn' | 'debug'>;
  /** Time between checks, in ms. Default DEFAULT_NODE_CHECK_MS (2 s). */
  intervalMs?: number;
  /** Time between scans of the runs of nodes already handled, in ms. Default DEFAULT_RESCAN_MS (5 min). */
  rescanMs?: number;
  /** Where an event goes for each run failed over. Default: none. */
  events?: RunEvents;
  /** Epoch ms now. Default Date.now. */
  now?: () => number;
}

/** What one check did. */
export interface NodeCheckResult {
  /** Nodes whose runs were looked at (Lease expired or missing). */
  lostNodes: string[];
  failed: number;
  retried: number;
  deleted: number;
  finalizersReleased: number;
  /** Writes another writer won; the next check tries again. */
  conflicts: number;
}

/** The leader's node-loss duty; see the file comment. */
export class NodeJanitor {
  readonly #o: NodeJanitorOptions;
  readonly #now: () => number;
  readonly #events: RunEvents;
  /** Expired Leases whose runs were all handled, by name and renewTime: not scanned again until rescanMs. */
  readonly #handled = new Set<string>();
  /** Per Lease: what it last looked like, and when (this clock) it last changed. */
  readonly #observed = new Map<string, { version: string; at: number }>();
  /** Since when the Leases have been read without a failure; undefined after a failure (blind). */
  #observingSince: number | undefined;
  #lastScan = Number.NEGATIVE_INFINITY;
  /** The node Leases of the last good read. */
  #listed: LeaseRecord[] = [];
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<NodeCheckResult | undefined> | undefined;

  constructor(options: NodeJanitorOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#events = options.events ?? noRunEvents;
  }

  /** Checks every intervalMs until stop() (observing the Leases even while another agent is the leader). */
  start(): void {
    this.#timer = setInterval(() => void this.check().catch((err: unknown) => this.#o.log.warn({ err }, 'node check failed')), this.#o.intervalMs ?? DEFAULT_NODE_CHECK_MS);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#checking?.catch(() => undefined);
  }

  /**
   * Whether `node`'s Lease is live by what this agent last saw (the measure the janitor fails
   * nodes over by: unchanged for its duration by this clock, or unheld, is not live); a node with
   * no Lease is not live once the Leases were watched for a full duration. Undefined while this
   * agent cannot tell yet (blind, or not watched long enough). Session affinity asks it.
   */
  nodeLive(node: string): boolean | undefined {
    if (this.#observingSince === undefined) return undefined;
    const now = this.#now();
    const lease = this.#listed.find((l) => l.node === node);
    if (lease !== undefined) return !this.#expired(lease, now);
    return now - this.#observingSince > this.#o.leaseDurationSeconds * 1000 ? false : undefined;
  }

  /** One check (what the timer runs); undefined when not the leader or nothing is due. Concurrent calls share one. */
  check(): Promise<NodeCheckResult | undefined> {
    this.#checking ??= this.#check().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  async #check(): Promise<NodeCheckResult | undefined> {
    const { store, leader, log } = this.#o;
    const before = await this.#observe();
    const now = this.#now();
    if (!leader.held()) return undefined;
    const fresh = before.filter((l) => this.#expired(l, now) && !this.#handled.has(handledKey(l)));
    if (fresh.length === 0 && now - this.#lastScan < (this.#o.rescanMs ?? DEFAULT_RESCAN_MS)) return undefined;
    // Runs first, Leases after: a run naming a node was claimed under a Lease that existed before this list.
    const runs = await store.list();
    const after = await this.#observe();
    const at = this.#now();
    const known = new Set(after.map((l) => l.node));
    const live = new Set(after.filter((l) => !this.#expired(l, at)).map((l) => l.node));
    // A node with no Lease: lost once this agent has watched the Leases for a full duration without it.
    const missingIsLost = this.#observingSince !== undefined && at - this.#observingSince > this.#o.leaseDurationSeconds * 1000;
    const result: NodeCheckResult = { lostNodes: [], failed: 0, retried: 0, deleted: 0, finalizersReleased: 0, conflicts: 0 };
    const lost = new Set<string>();
    for (const run of runs) {
      const node = run.status?.node;
      if (node === undefined || node === '' || live.has(node) || (!known.has(node) && !missingIsLost)) continue;
      lost.add(node);
      const action = decideNodeLoss({
        status: run.status,
        spec: parseSpec(run.spec).spec,
        deleting: run.metadata.deletionTimestamp !== undefined,
        finalizers: run.metadata.finalizers ?? [],
        node,
        now: at,
      });
      try {
        switch (action.type) {
          case 'none':
            break;
          case 'fail-over': {
            const next = nextStatus(run.status, action.change, { generation: run.metadata.generation, now: new Date(at).toISOString() });
            const written = await store.updateStatus(refOf(run), next, run.metadata.resourceVersion);
            const event = transitionEvent(run.status, next);
            if (event !== undefined) this.#events.record(written, event);
            log.info({ agentRun: keyOf(refOf(run)), node, retry: action.retry }, 'failed over a run of a lost node');
            if (action.retry) result.retried += 1;
            else result.failed += 1;
            break;
          }
          case 'release-finalizer':
            await store.setFinalizers(refOf(run), action.finalizers, run.metadata.resourceVersion);
            result.finalizersReleased += 1;
            break;
          case 'delete':
            await store.delete(refOf(run));
            result.deleted += 1;
            break;
        }
      } catch (err) {
        if (err instanceof NotFoundError) continue;
        if (!(err instanceof ConflictError)) throw err;
        result.conflicts += 1;
      }
    }
    result.lostNodes = [...lost].sort();
    if (result.conflicts === 0) {
      for (const lease of after) if (this.#expired(lease, at)) this.#handled.add(handledKey(lease));
      this.#lastScan = at;
    }
    return result;
  }

  /** Reads the node Leases and notes which changed; a failed read makes this agent blind until the next good one. */
  async #observe(): Promise<LeaseRecord[]> {
    let listed: LeaseRecord[];
    try {
      listed = await this.#o.leases.listNodeLeases();
    } catch (err) {
      this.#observingSince = undefined;
      throw err;
    }
    this.#listed = listed;
    const now = this.#now();
    const blind = this.#observingSince === undefined;
    if (blind) this.#observingSince = now;
    for (const lease of listed) {
      const version = `${lease.holderIdentity ?? ''}@${lease.renewTime ?? ''}`;
      const seen = this.#observed.get(lease.name);
      if (blind || seen === undefined || seen.version !== version) this.#observed.set(lease.name, { version, at: now });
    }
    return listed;
  }

  /** Nobody holds it, or it has not changed for its duration by this clock. */
  #expired(lease: LeaseRecord, now: number): boolean {
    if (lease.holderIdentity === undefined || lease.holderIdentity === '') return true;
    const seen = this.#observed.get(lease.name);
    return seen === undefined || now - seen.at > lease.leaseDurationSeconds * 1000;
  }
}

function handledKey(lease: { name: string; renewTime?: string; holderIdentity?: string }): string {
  return `${lease.name}@${lease.renewTime ?? ''}@${lease.holderIdentity ?? ''}`;
}
