// The pure heart of the AgentRun reconciler: from what is declared and what is observed, decide
// the one next action (decide), and how an ended attempt concludes (conclude). No I/O here;
// docs/reconcile.md is the specification, phases.test.ts its table.
import type { AgentRunSpec, AgentRunStatus, Phase } from '../../../contract/apis/v1alpha1/index.ts';
import { Reasons, isTerminalPhase } from '../../../contract/apis/v1alpha1/index.ts';
import { parseDuration } from '../../../contract/apis/v1alpha1/podman.ts';
import { HOOK_FAILED_EXIT, HOOK_LOG_PREFIX, HOOK_TIMEOUT_EXIT, hasHooks } from '../runner/lifecycle.ts';
import type { AttemptRecord, ObservedContainer } from '../runner/types.ts';

/** The finalizer that guarantees a deleted run's container is stopped and removed. */
export const CLEANUP_FINALIZER = 'stromboli.dev/container-cleanup';

/** Default wall-clock limit of an attempt (Stromboli's default timeout). */
export const DEFAULT_DEADLINE_SECONDS = 30 * 60;

export interface DecideInput {
  generation: number;
  deleting: boolean;
  hasFinalizer: boolean;
  /** The parsed spec, or undefined when it did not validate (then specError says why). */
  spec: AgentRunSpec | undefined;
  specError?: string;
  status: AgentRunStatus | undefined;
  /** The container of the current attempt, when one exists. */
  container: ObservedContainer | undefined;
  /** Epoch ms. */
  now: number;
  /** How often a running container is looked at when nothing else happens. */
  pollMs: number;
}

export type Action =
  /** Deletion asked: stop and remove containers, then drop the finalizer. */
  | { type: 'finalize' }
  /** The spec cannot run: end Failed with this reason, no retry. */
  | { type: 'reject'; reason: string; message: string }
  /** Finished: remove a leftover container, record a newer generation, honour the TTL. */
  | { type: 'settle'; removeContainer: boolean; recordGeneration: boolean; ttlDueInMs: number | undefined }
  /** spec.cancel: stop whatever runs and end Cancelled. */
  | { type: 'cancel' }
  /** Not started and suspended. */
  | { type: 'suspend' }
  /** Protect the future container with the cleanup finalizer before starting it. */
  | { type: 'add-finalizer' }
  /** Start the current attempt (subject to a free slot). */
  | { type: 'start' }
  /** A container runs (or was just adopted): make sure it is recorded, look again later. */
  | { type: 'watch'; requeueAfterMs: number; adopt: boolean }
  /** The deadline passed while the container runs: stop it and end DeadlineExceeded. */
  | { type: 'deadline' }
  /** The container ended: collect its output and conclude the attempt. */
  | { type: 'record-exit' }
  /** Status says Running but the container is gone (removed behind our back). */
  | { type: 'lost' };

export function deadlineSeconds(spec: AgentRunSpec): number {
  if (spec.activeDeadlineSeconds !== undefined) return spec.activeDeadlineSeconds;
  const timeout = spec.podman?.timeout;
  if (timeout !== undefined) {
    const ms = parseDuration(timeout);
    if (ms !== undefined && ms > 0) return Math.max(1, Math.ceil(ms / 1000));
  }
  return DEFAULT_DEADLINE_SECONDS;
}

/** The one next action for a run. */
export function decide(input: DecideInput): Action {
  const { spec, status, container } = input;
  if (input.deleting) return { type: 'finalize' };

  if (isTerminalPhase(status?.phase)) {
    const ttl = spec?.ttlSecondsAfterFinished;
    const completed = status?.completionTime === undefined ? undefined : Date.parse(status.completionTime);
    const ttlDueInMs = ttl === undefined || completed === undefined ? undefined : Math.max(0, completed + ttl * 1000 - input.now);
    return {
      type: 'settle',
      removeContainer: container !== undefined,
      recordGeneration: (status?.observedGeneration ?? -1) !== input.generation,
      ttlDueInMs,
    };
  }

  if (spec === undefined) return { type: 'reject', reason: Reasons.InvalidSpec, message: input.specError ?? 'invalid spec' };

  if (spec.cancel === true) return { type: 'cancel' };

  if (container === undefined) {
    if (status?.phase === 'Running') return { type: 'lost' };
    if (spec.suspend === true) return { type: 'suspend' };
    if (!input.hasFinalizer) return { type: 'add-finalizer' };
    return { type: 'start' };
  }

  if (container.finished) return { type: 'record-exit' };

  const started = Date.parse(container.startedAt ?? status?.startTime ?? '') || input.now;
  const deadlineAt = started + deadlineSeconds(spec) * 1000;
  if (input.now >= deadlineAt) return { type: 'deadline' };
  return {
    type: 'watch',
    requeueAfterMs: Math.max(1, Math.min(input.pollMs, deadlineAt - input.now)),
    adopt: status?.phase !== 'Running' || status.containerName !== container.name,
  };
}

export interface Conclusion {
  phase: Phase;
  reason: string;
  message: string;
  /** True when another attempt should follow (backoffLimit allows and the failure may pass). */
  retry: boolean;
}

/** Failures that another attempt cannot fix, or would only repeat at a cost. */
const NEVER_RETRIED = new Set<string>([
  Reasons.Cancelled,
  Reasons.DeadlineExceeded,
  Reasons.InvalidSpec,
  Reasons.VolumeNotAllowed,
  Reasons.InvalidVolume,
  Reasons.InvalidWorkdir,
  Reasons.InvalidImage,
  Reasons.ImageNotAllowed,
  Reasons.ImageIncompatible,
  Reasons.ImageNotFound,
  Reasons.SecretNotFound,
  Reasons.PromptNotFound,
  Reasons.MaxTurns,
  Reasons.BudgetExceeded,
  Reasons.StructuredOutputFailed,
]);

const SIGNALS: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 6: 'SIGABRT', 9: 'SIGKILL', 11: 'SIGSEGV', 15: 'SIGTERM' };

/** The signal name behind an exit code above 128, when there is one. */
export function signalOf(exitCode: number | undefined): string | undefined {
  if (exitCode === undefined || exitCode <= 128) return undefined;
  return SIGNALS[exitCode - 128] ?? `signal ${exitCode - 128}`;
}

export interface ConcludeInput {
  spec: AgentRunSpec;
  attempt: number;
  container: ObservedContainer;
  record: AttemptRecord;
  /** Why the controller stopped the container, if it did. */
  stoppedFor?: 'cancel' | 'deadline';
}

/** How an ended attempt ends the run (or leads to the next attempt). */
export function conclude(input: ConcludeInput): Conclusion {
  const base = concludeAttempt(input);
  if (base.phase !== 'Failed' || NEVER_RETRIED.has(base.reason)) return base;
  const retry = input.attempt <= (input.spec.backoffLimit ?? 0);
  return { ...base, retry };
}

function concludeAttempt(input: ConcludeInput): Conclusion {
  const { container, record } = input;
  const result = record.summary.result;
  const fail = (reason: string, message: string): Conclusion => ({ phase: 'Failed', reason, message, retry: false });
  if (input.stoppedFor === 'cancel') return { phase: 'Cancelled', reason: Reasons.Cancelled, message: 'cancelled by spec.cancel', retry: false };

  if (result !== undefined) {
    if (!result.isError && result.subtype === 'success') {
      if (container.exitCode === undefined || container.exitCode === 0) {
        return { phase: 'Succeeded', reason: Reasons.Succeeded, message: 'claude finished successfully', retry: false };
      }
      return fail(Reasons.NonZeroExit, `claude reported success but exited with code ${container.exitCode}`);
    }
    const text = result.result ?? result.errors?.join('; ') ?? result.subtype;
    switch (result.subtype) {
      case 'error_max_turns':
        return fail(Reasons.MaxTurns, text);
      case 'error_max_budget_usd':
        return fail(Reasons.BudgetExceeded, text);
      case 'error_max_structured_output_retries':
        return fail(Reasons.StructuredOutputFailed, text);
      default:
        if (result.terminalReason === 'api_error' || result.apiErrorStatus !== undefined) return fail(Reasons.ApiError, text);
        return fail(Reasons.ClaudeError, text);
    }
  }

  if (container.startedAt === undefined && container.exitCode === undefined) {
    return fail(Reasons.StartFailed, 'the container was created but never started');
  }
  // The hooks' launcher (runner/lifecycle.ts) ends with its own codes before the CLI ever ran.
  if (hasHooks(input.spec.podman?.lifecycle)) {
    const said = hookMessage(record.stderrTail);
    if (container.exitCode === HOOK_FAILED_EXIT) return fail(Reasons.HookFailed, `${said ?? 'a lifecycle hook failed'}; its output is in the run's log`);
    if (container.exitCode === HOOK_TIMEOUT_EXIT) return fail(Reasons.HookTimeout, `${said ?? 'the lifecycle hooks ran past hooksTimeout'}; their output is in the run's log`);
  }
  const deadlineExceeded =
    input.stoppedFor === 'deadline' ||
    (container.exitCode !== 0 && elapsedSeconds(container) !== undefined && (elapsedSeconds(container) ?? 0) >= deadlineSeconds(input.spec));
  if (deadlineExceeded) {
    return fail(Reasons.DeadlineExceeded, `the attempt exceeded its deadline of ${deadlineSeconds(input.spec)}s; partial output is kept in the log`);
  }
  if (container.oomKilled === true) return fail(Reasons.OOMKilled, 'the container ran out of memory');
  const code = container.exitCode;
  if (code !== undefined && (code > 128 || code < 0)) {
    const signal = signalOf(code);
    return fail(Reasons.Crashed, `claude crashed (exit code ${code}${signal === undefined ? '' : `, ${signal}`}) without a result`);
  }
  if (code !== undefined && code !== 0) {
    const firstLine = record.stderrTail.trim().split('\n').pop() ?? '';
    return fail(Reasons.NonZeroExit, `claude exited with code ${code} without a result${firstLine === '' ? '' : `: ${firstLine}`}`);
  }
  return fail(Reasons.ClaudeError, 'claude exited without a result event');
}

/** The hooks' launcher's last line on stderr, without its prefix. */
function hookMessage(stderrTail: string): string | undefined {
  const line = stderrTail
    .split('\n')
    .reverse()
    .find((l) => l.startsWith(HOOK_LOG_PREFIX));
  return line === undefined ? undefined : line.slice(HOOK_LOG_PREFIX.length).trim();
}

function elapsedSeconds(container: ObservedContainer): number | undefined {
  if (container.startedAt === undefined || container.finishedAt === undefined) return undefined;
  const ms = Date.parse(container.finishedAt) - Date.parse(container.startedAt);
  return Number.isFinite(ms) ? ms / 1000 : undefined;
}
