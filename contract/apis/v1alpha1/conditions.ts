// Condition types and stable reasons of an AgentRun (docs/reconcile.md), and the pure helpers
// that keep Succeeded / Ready / Reconciling / Stalled consistent with the phase, so kubectl,
// kstatus (Flux, kpt) and Argo CD all read the same truth.
import type { AgentRunStatus, Condition, Phase } from './agentrun.ts';
import { compact } from '../../compact.ts';

export const ConditionTypes = {
  /** Tekton-style primary condition: Unknown while in progress, True on success, False on failure. */
  Succeeded: 'Succeeded',
  /** True only on success (`kubectl wait --for=condition=Ready`). */
  Ready: 'Ready',
  /** kstatus: True while the run is not finished. */
  Reconciling: 'Reconciling',
  /** kstatus: True once the run has failed for good. */
  Stalled: 'Stalled',
} as const;

/** Every reason the controller writes. PascalCase, stable: clients may match on them. */
export const Reasons = {
  // in progress (Succeeded=Unknown)
  Pending: 'Pending',
  Queued: 'Queued',
  /** A node agent claimed the run (status.node names it) and is about to start it (Kubernetes mode, docs/multi-node.md). */
  Claimed: 'Claimed',
  Suspended: 'Suspended',
  /** The run resumes or forks a session whose HOME is on a node agent that is not alive; it waits for that node (docs/multi-node.md, "Session affinity"). */
  SessionNodeUnavailable: 'SessionNodeUnavailable',
  /** The run's namespace has as many runs running (or claimed) across the agents as its stromboli.dev/max-running-runs annotation allows; it waits (docs/multi-node.md). */
  NamespaceCapReached: 'NamespaceCapReached',
  Starting: 'Starting',
  Running: 'Running',
  Retrying: 'Retrying',
  // success
  Succeeded: 'Succeeded',
  // failure (Succeeded=False)
  InvalidSpec: 'InvalidSpec',
  VolumeNotAllowed: 'VolumeNotAllowed',
  InvalidVolume: 'InvalidVolume',
  InvalidWorkdir: 'InvalidWorkdir',
  InvalidImage: 'InvalidImage',
  ImageNotAllowed: 'ImageNotAllowed',
  ImageIncompatible: 'ImageIncompatible',
  ImageNotFound: 'ImageNotFound',
  SecretNotFound: 'SecretNotFound',
  /** spec.promptFrom names a ConfigMap, Secret or key that does not exist. */
  PromptNotFound: 'PromptNotFound',
  DeadlineExceeded: 'DeadlineExceeded',
  Cancelled: 'Cancelled',
  Crashed: 'Crashed',
  OOMKilled: 'OOMKilled',
  MaxTurns: 'MaxTurns',
  BudgetExceeded: 'BudgetExceeded',
  StructuredOutputFailed: 'StructuredOutputFailed',
  ApiError: 'ApiError',
  ClaudeError: 'ClaudeError',
  NonZeroExit: 'NonZeroExit',
  /** A lifecycle hook (spec.podman.lifecycle) exited non-zero; its output is in the run's log. */
  HookFailed: 'HookFailed',
  /** The lifecycle hooks ran past spec.podman.lifecycle.hooksTimeout. */
  HookTimeout: 'HookTimeout',
  ContainerLost: 'ContainerLost',
  /** The node agent named by status.node lost its Lease while the run was unfinished (docs/multi-node.md). */
  NodeLost: 'NodeLost',
  StartFailed: 'StartFailed',
} as const;
export type Reason = (typeof Reasons)[keyof typeof Reasons];

export function getCondition(status: AgentRunStatus | undefined, type: string): Condition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

/**
 * Returns conditions with `next` set, keeping lastTransitionTime when the status value did not
 * change (Kubernetes convention). Never mutates its input.
 */
export function setCondition(conditions: readonly Condition[] | undefined, next: Omit<Condition, 'lastTransitionTime'>, now: string): Condition[] {
  const list = [...(conditions ?? [])];
  const index = list.findIndex((c) => c.type === next.type);
  const previous = index >= 0 ? list[index] : undefined;
  const lastTransitionTime = previous !== undefined && previous.status === next.status ? previous.lastTransitionTime : now;
  const condition: Condition = { ...next, lastTransitionTime };
  if (condition.message === undefined) delete condition.message;
  if (index >= 0) list[index] = condition;
  else list.push(condition);
  return list;
}

export function isTerminalPhase(phase: Phase | undefined): boolean {
  return phase === 'Succeeded' || phase === 'Failed' || phase === 'Cancelled';
}

/**
 * The four conditions for a phase and reason, as one consistent set. `message` is already
 * bounded and redacted by the caller.
 */
export function conditionsFor(
  existing: readonly Condition[] | undefined,
  phase: Phase,
  reason: string,
  message: string | undefined,
  generation: number,
  now: string,
): Condition[] {
  const succeeded = phase === 'Succeeded' ? 'True' : isTerminalPhase(phase) ? 'False' : 'Unknown';
  const base = { reason, observedGeneration: generation, ...compact({ message }) };
  let list = setCondition(existing, { type: ConditionTypes.Succeeded, status: succeeded, ...base }, now);
  list = setCondition(list, { type: ConditionTypes.Ready, status: phase === 'Succeeded' ? 'True' : 'False', ...base }, now);
  list = setCondition(list, { type: ConditionTypes.Reconciling, status: isTerminalPhase(phase) ? 'False' : 'True', ...base }, now);
  list = setCondition(list, { type: ConditionTypes.Stalled, status: succeeded === 'False' ? 'True' : 'False', ...base }, now);
  return list;
}

/** The reason of the Succeeded condition, the one clients read. */
export function reasonOf(status: AgentRunStatus | undefined): string | undefined {
  return getCondition(status, ConditionTypes.Succeeded)?.reason;
}
