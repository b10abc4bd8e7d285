// Building an AgentRun's status: the one place that turns a decision (phase, reason, message)
// and an ended attempt's facts into the status the reconciler writes. Pure: no I/O.
import type { AgentRunStatus, Phase } from '../../../contract/apis/v1alpha1/index.ts';
import { MAX_RESULT_CHARS, Reasons, conditionsFor } from '../../../contract/apis/v1alpha1/index.ts';
import { boundedMessage } from '../../../contract/errors.ts';
import { CommandError } from '../exec/command-error.ts';
import { scrub } from '../../../contract/redact.ts';
import type { AttemptRecord, ObservedContainer } from '../runner/types.ts';
import { signalOf } from './phases.ts';
import { compact } from '../../../contract/compact.ts';

/** What one reconcile changes: the phase with its reason and message, plus fields to set (undefined removes one). */
export interface StatusChange extends Partial<Omit<AgentRunStatus, 'phase' | 'message' | 'conditions'>> {
  phase: Phase;
  reason: string;
  message: string;
  /** Sets completionTime (once). */
  completed?: boolean;
}

/** A status message as written: scrubbed of secret values, one line, at most 1 KiB. */
export function statusMessage(message: string): string {
  return boundedMessage(scrub(message), 1024);
}

/** The status after `change`: conditions kept consistent with the phase, times set once. */
/** context.node is written as status.node; without it status.node is what the change and the previous status say (a write for a run nobody claimed, or the janitor's). */
export function nextStatus(previous: AgentRunStatus | undefined, change: StatusChange, context: { generation: number; node?: string | undefined; now: string }): AgentRunStatus {
  const { phase, reason, message, completed, ...fields } = change;
  const safeMessage = statusMessage(message);
  const next: Record<string, unknown> = { ...previous };
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) delete next[key];
    else next[key] = value;
  }
  const status = next as AgentRunStatus;
  status.observedGeneration = context.generation;
  status.phase = phase;
  status.message = safeMessage;
  if (context.node !== undefined) status.node = context.node;
  status.conditions = conditionsFor(previous?.conditions, phase, reason, safeMessage, context.generation, context.now);
  if (completed === true && status.completionTime === undefined) status.completionTime = context.now;
  if (completed === true && status.duration === undefined && status.startTime !== undefined) {
    const ms = Date.parse(status.completionTime ?? context.now) - Date.parse(status.startTime);
    if (Number.isFinite(ms)) status.duration = formatDuration(ms);
  }
  return status;
}

/** A wall time as kubectl shows durations: 4.2s under 10 s, then 42s, 3m7s, 1h2m, 2d3h. */
export function formatDuration(ms: number): string {
  const clamped = Math.max(0, ms);
  if (clamped < 10_000) return `${(Math.floor(clamped / 100) / 10).toFixed(1)}s`;
  const s = Math.floor(clamped / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`;
}

/** The useful part of a start failure: podman's last stderr line for a command, else the message. */
export function startFailureText(err: unknown): string {
  if (err instanceof CommandError) {
    const last = err.stderrTail.trim().split('\n').pop();
    if (last !== undefined && last !== '') return last;
  }
  return err instanceof Error ? err.message : String(err);
}


/** Status fields an ended attempt contributes: exit code, crash info, result, usage. */
export function attemptFacts(container: ObservedContainer, record: AttemptRecord): Partial<AgentRunStatus> {
  const { summary } = record;
  const result = summary.result;
  const facts: Partial<AgentRunStatus> = {};
  if (container.exitCode !== undefined) facts.exitCode = container.exitCode;
  if (summary.sessionId !== undefined) facts.sessionId = summary.sessionId;
  const text = result?.result ?? (summary.assistantText === '' ? undefined : summary.assistantText);
  if (text !== undefined) {
    const clean = scrub(text);
    facts.result = clean.slice(0, MAX_RESULT_CHARS);
    if (clean.length > MAX_RESULT_CHARS) facts.resultTruncated = true;
  }
  if (result?.structuredOutput !== undefined) facts.structuredOutput = result.structuredOutput;
  if (result !== undefined) {
    const usage: NonNullable<AgentRunStatus['usage']> = {};
    if (result.inputTokens !== undefined) usage.inputTokens = result.inputTokens;
    if (result.outputTokens !== undefined) usage.outputTokens = result.outputTokens;
    if (result.cacheCreationInputTokens !== undefined) usage.cacheCreationInputTokens = result.cacheCreationInputTokens;
    if (result.cacheReadInputTokens !== undefined) usage.cacheReadInputTokens = result.cacheReadInputTokens;
    if (result.costUSD !== undefined) usage.costUSD = result.costUSD;
    if (result.numTurns !== undefined) usage.numTurns = result.numTurns;
    if (result.durationMs !== undefined) usage.durationMs = result.durationMs;
    if (result.durationApiMs !== undefined) usage.durationApiMs = result.durationApiMs;
    if (summary.model !== undefined) usage.model = summary.model;
    facts.usage = usage;
  } else {
    const code = container.exitCode;
    const signal = signalOf(code);
    facts.crash = {
      ...compact({ exitCode: code }),
      ...compact({ signal }),
      ...(container.oomKilled === true ? { oomKilled: true } : {}),
      ...(record.stderrTail.trim() === '' ? {} : { stderrTail: scrub(record.stderrTail).slice(-4096) }),
    };
  }
  return facts;
}

/** The status change that ends an attempt: Pending/Retrying towards the next attempt, or the run's final phase. */
export function conclusionChange(conclusion: { phase: Phase; reason: string; message: string; retry: boolean }, attempt: number, facts: Partial<AgentRunStatus>): StatusChange {
  if (conclusion.retry) {
    return {
      ...facts,
      phase: 'Pending',
      reason: Reasons.Retrying,
      message: `attempt ${attempt} failed (${conclusion.reason}: ${conclusion.message}); attempt ${attempt + 1} follows`,
      attempt: attempt + 1,
      containerName: undefined,
    };
  }
  // attempt too: a container that ended before its Running status could be written (an API
  // server away meanwhile) leaves a run whose status never said which attempt it was.
  return { ...facts, attempt, phase: conclusion.phase, reason: conclusion.reason, message: conclusion.message, completed: true };
}
