// The event-recording port of the reconciler: one event per change of a run's phase or reason
// (never one per reconcile), with the reason the conditions carry, so `kubectl describe ar NAME`
// tells the run's story. transitionEvent decides (pure); a RunEvents records. Recording is fire
// and forget: an implementation never throws and never makes a reconcile wait or fail.
// Implementations: KubeRunEvents (store/kube/kube-run-events.ts, events.k8s.io/v1), noRunEvents
// (the embedded mode has no events API), FakeRunEvents (unit tests).
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { Reasons, reasonOf } from '../../../contract/apis/v1alpha1/index.ts';
import type { Resource } from '../../../contract/store/store.ts';
import { keyOf } from '../../../contract/store/store.ts';

/** One event about a run. */
export interface RunEvent {
  /** Warning for failures and refusals, Normal otherwise (Kubernetes' two types). */
  type: 'Normal' | 'Warning';
  /** The reason of the run's Succeeded condition after the change (PascalCase, stable). */
  reason: string;
  /** The status message (already bounded to 1 KiB and scrubbed of secret values). */
  message: string;
  /** What the controller did: Queue, Suspend, Claim, Start, Retry, Succeed, Fail, Cancel. */
  action: string;
}

export interface RunEvents {
  /** Records an event about `run` (the object as written). Never throws; failures are logged by the implementation. */
  record(run: Resource<AgentRunStatus>, event: RunEvent): void;
}

/** The embedded mode's recorder: no events API, nothing recorded (status and logs tell the story). */
export const noRunEvents: RunEvents = { record: () => undefined };

/** Reasons that are bad news while the run is still pending: a failed attempt, a start that keeps failing. */
const WARNING_PENDING_REASONS = new Set<string>([Reasons.Retrying, Reasons.Pending]);

function actionOf(status: AgentRunStatus, reason: string): string {
  switch (status.phase) {
    case 'Running':
      return 'Start';
    case 'Succeeded':
      return 'Succeed';
    case 'Failed':
      return 'Fail';
    case 'Cancelled':
      return 'Cancel';
    default:
      if (reason === Reasons.Queued) return 'Queue';
      if (reason === Reasons.Suspended) return 'Suspend';
      if (reason === Reasons.Retrying) return 'Retry';
      if (reason === Reasons.Claimed) return 'Claim';
      return 'Start';
  }
}

/** The event a status write deserves: one when the phase or the reason changed, none otherwise. */
export function transitionEvent(previous: AgentRunStatus | undefined, next: AgentRunStatus): RunEvent | undefined {
  const reason = reasonOf(next);
  if (reason === undefined || next.phase === undefined) return undefined;
  if (previous?.phase === next.phase && reasonOf(previous) === reason) return undefined;
  const warning = next.phase === 'Failed' || WARNING_PENDING_REASONS.has(reason);
  return { type: warning ? 'Warning' : 'Normal', reason, message: next.message ?? '', action: actionOf(next, reason) };
}

/** Records in memory, for tests. */
export class FakeRunEvents implements RunEvents {
  readonly events: Array<RunEvent & { key: string; uid: string }> = [];

  record(run: Resource<AgentRunStatus>, event: RunEvent): void {
    this.events.push({ key: keyOf(run.metadata), uid: run.metadata.uid, ...event });
  }

  /** The reasons recorded for one run (`namespace/name`), in order. */
  reasonsOf(key: string): string[] {
    return this.events.filter((e) => e.key === key).map((e) => e.reason);
  }
}
