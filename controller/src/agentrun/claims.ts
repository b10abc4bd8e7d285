// Sharing the runs of one cluster between node agents (docs/multi-node.md), as pure decisions:
// whose a run is (status.node), and what the janitor does with the runs of a node whose Lease
// expired. The writes these lead to are compare-and-swap on the run's resourceVersion, so an
// agent acting on a stale read loses with a conflict instead of overwriting another's claim.
import type { AgentRunSpec, AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { Reasons, isTerminalPhase } from '../../../contract/apis/v1alpha1/index.ts';
import { CLEANUP_FINALIZER } from './phases.ts';
import { conclusionChange } from './status.ts';
import type { StatusChange } from './status.ts';

/** Whose a run is, seen from the agent `me`. */
export type Ownership =
  /** status.node names me: mine to start, watch, stop and write. */
  | { kind: 'mine' }
  /** Nobody's yet (no status.node): any agent with a free slot may claim it. */
  | { kind: 'unclaimed' }
  /** Another node's: never started, stopped or written by me (my leftover container of it goes). */
  | { kind: 'other'; node: string };

/** The ownership of a run with this status, for the agent named `me`. */
export function ownershipOf(status: Pick<AgentRunStatus, 'node'> | undefined, me: string): Ownership {
  const node = status?.node;
  if (node === undefined || node === '') return { kind: 'unclaimed' };
  return node === me ? { kind: 'mine' } : { kind: 'other', node };
}

/** The status change of a claim: still Pending, now naming the claiming node (written with the run's resourceVersion). */
export function claimChange(node: string): StatusChange {
  return { phase: 'Pending', reason: Reasons.Claimed, message: `claimed by node ${node}; starting` };
}

/** What the janitor does with one run of a node whose Lease expired. */
export type NodeLossAction =
  /** Nothing: finished, not that node's, or being deleted without our finalizer. */
  | { type: 'none' }
  /** Unfinished: end it (NodeLost) or hand it back to Pending for another agent, with status.node cleared. */
  | { type: 'fail-over'; change: StatusChange; retry: boolean }
  /** Being deleted, its container on a node that is gone: drop our finalizer so the deletion completes. */
  | { type: 'release-finalizer'; finalizers: string[] }
  /** Finished and past its ttlSecondsAfterFinished: the lost node will not delete it, so the janitor does. */
  | { type: 'delete' };

export interface NodeLossInput {
  status: AgentRunStatus | undefined;
  /** The parsed spec; undefined when it does not validate (no retry then). */
  spec: AgentRunSpec | undefined;
  deleting: boolean;
  finalizers: readonly string[];
  /** The lost node. */
  node: string;
  /** Epoch ms. */
  now: number;
}

/**
 * A run of a lost node: an unfinished one ends Failed NodeLost, or, when backoffLimit allows
 * another attempt, goes back to Pending (reason Retrying) with status.node and the container
 * cleared and the attempt count moved on: the lost attempt counts, as a crash would, and the
 * next attempt gets a new container name, so a frozen node that comes back cannot be mistaken
 * for the new attempt's owner. A finished run keeps status.node (where it ran).
 */
export function decideNodeLoss(input: NodeLossInput): NodeLossAction {
  const { status, spec } = input;
  if (status?.node !== input.node) return { type: 'none' };
  if (input.deleting) {
    if (!input.finalizers.includes(CLEANUP_FINALIZER)) return { type: 'none' };
    return { type: 'release-finalizer', finalizers: input.finalizers.filter((f) => f !== CLEANUP_FINALIZER) };
  }
  if (isTerminalPhase(status.phase)) {
    const ttl = spec?.ttlSecondsAfterFinished;
    const completed = status.completionTime === undefined ? Number.NaN : Date.parse(status.completionTime);
    if (ttl !== undefined && Number.isFinite(completed) && completed + ttl * 1000 <= input.now) return { type: 'delete' };
    return { type: 'none' };
  }
  const attempt = Math.max(1, status.attempt ?? 1);
  const started = status.phase === 'Running' || status.containerName !== undefined;
  const retry = spec !== undefined && spec.cancel !== true && attempt <= (spec.backoffLimit ?? 0);
  const message = `node ${input.node} lost its Lease ${started ? 'while the run was running' : 'before the run started'}`;
  const change = conclusionChange({ phase: 'Failed', reason: Reasons.NodeLost, message, retry }, attempt, {});
  return { type: 'fail-over', change: retry ? { ...change, node: undefined } : change, retry };
}

/**
 * The session whose HOME a run needs (spec.session.resume with an id, a fork included: a fork
 * copies that HOME); undefined for a run that starts a new conversation.
 */
export function resumedSessionOf(spec: Pick<AgentRunSpec, 'session'>): string | undefined {
  const session = spec.session;
  if (session?.resume !== true || session.id === undefined || session.id === '') return undefined;
  return session.id;
}

/** What an agent may do with an unclaimed run that resumes a session (session affinity). */
export type SessionClaim =
  /** Claim it as any run: the session is here, on shared storage, or has no known home. */
  | { type: 'claim' }
  /** Leave it, writing nothing: its home node is alive (it claims it), or not known to be dead yet. */
  | { type: 'leave'; node: string }
  /** Its home node is gone: it waits Pending with reason SessionNodeUnavailable, naming the node. */
  | { type: 'wait'; node: string; change: StatusChange };

export interface SessionClaimInput {
  /** The agent deciding. */
  me: string;
  session: string;
  /** True when this agent's state directory holds sessions/<session>. */
  local: boolean;
  /** True when the sessions directory is on storage every agent shares (--shared-sessions). */
  shared: boolean;
  /** status.node of the latest other run of that session that names one; undefined when none does. */
  home: string | undefined;
  /** Whether the home's node Lease is live; undefined when not known yet (the Leases not watched for a full duration). */
  homeLive: boolean | undefined;
}

/**
 * Session affinity: a resumed session's HOME lives in one agent's state directory, so only that
 * agent can resume it. The agent that has it (or any agent, with shared sessions, or when no run
 * names a home) claims it; the others leave it to the home while its Lease is live; when the home
 * is gone, the run waits with a reason naming it rather than start without its conversation.
 */
export function decideSessionClaim(input: SessionClaimInput): SessionClaim {
  if (input.shared || input.local || input.home === undefined || input.home === input.me) return { type: 'claim' };
  if (input.homeLive !== false) return { type: 'leave', node: input.home };
  return {
    type: 'wait',
    node: input.home,
    change: { phase: 'Pending', reason: Reasons.SessionNodeUnavailable, message: `session ${input.session} is on node ${input.home}, which is not alive; waiting for it` },
  };
}
