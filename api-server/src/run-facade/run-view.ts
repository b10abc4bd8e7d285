// How an AgentRun's phase and reason read in Stromboli's terms: job statuses, crash_info, the
// flat usage, timestamps, and what a failed run answers. Pure functions over a stored run; the
// only place these mappings are decided (docs/compatibility.md has the table).
import { z } from 'zod';
import { Reasons, isTerminalPhase, reasonOf } from '../../../contract/apis/v1alpha1/index.ts';
import type { StoredRun } from '../../../contract/ports.ts';
import type { CrashInfo, JobStatus, Usage } from './schemas.ts';
import { compact } from '../../../contract/compact.ts';

/** Failed reasons Stromboli calls a crash (a signal, exit > 128, or its timeout): HTTP 200, status "crashed". */
export const CRASH_REASONS: ReadonlySet<string> = new Set([Reasons.Crashed, Reasons.DeadlineExceeded, Reasons.OOMKilled]);

/** Failed reasons caused by the request itself (found by the controller, not the facade): 400, with Stromboli's message prefixes. */
const REQUEST_REASONS: ReadonlyMap<string, string> = new Map([
  [Reasons.VolumeNotAllowed, 'volume validation failed'],
  [Reasons.InvalidVolume, 'volume validation failed'],
  [Reasons.InvalidWorkdir, 'workdir validation failed'],
  [Reasons.InvalidImage, 'image validation failed'],
  [Reasons.ImageNotAllowed, 'image validation failed'],
  [Reasons.ImageIncompatible, 'image validation failed'],
  [Reasons.ImageNotFound, 'image validation failed'],
  [Reasons.InvalidSpec, 'Invalid request'],
]);

/** The few spec fields the views read; the stored spec is unvalidated, so it is read defensively. */
const SpecViewSchema = z.looseObject({
  cancel: z.boolean().optional(),
  session: z.looseObject({ id: z.string().optional() }).optional(),
  claude: z.looseObject({ outputFormat: z.string().optional() }).optional(),
});
type SpecView = z.infer<typeof SpecViewSchema>;

function specOf(run: StoredRun): SpecView {
  const parsed = SpecViewSchema.safeParse(run.spec);
  return parsed.success ? parsed.data : {};
}

export function isFinished(run: StoredRun): boolean {
  return isTerminalPhase(run.status?.phase);
}

/** True once spec.cancel is set: the controller guarantees such a run ends Cancelled (unless it had already ended). */
export function isCancelRequested(run: StoredRun): boolean {
  return specOf(run).cancel === true;
}

/** The output format the client asked for; the controller always runs stream-json, the facade renders the rest. */
export function outputFormatOf(run: StoredRun): 'text' | 'json' | 'stream-json' {
  const format = specOf(run).claude?.outputFormat;
  return format === 'json' || format === 'stream-json' ? format : 'text';
}

export function sessionIdOf(run: StoredRun): string | undefined {
  return run.status?.sessionId ?? specOf(run).session?.id;
}

/**
 * Stromboli's job status of a run. Queued and not-yet-started runs are `pending` (Stromboli shows
 * `running` at once: it has no queue); a run with spec.cancel is `cancelled` at once, as in
 * Stromboli, because the controller makes that final.
 */
export function jobStatusOf(run: StoredRun): JobStatus {
  const phase = run.status?.phase;
  if (!isTerminalPhase(phase) && isCancelRequested(run)) return 'cancelled';
  switch (phase) {
    case undefined:
    case 'Pending':
      return reasonOf(run.status) === Reasons.Retrying ? 'running' : 'pending';
    case 'Running':
      return 'running';
    case 'Succeeded':
      return 'completed';
    case 'Cancelled':
      return 'cancelled';
    case 'Failed':
      return CRASH_REASONS.has(reasonOf(run.status) ?? '') ? 'crashed' : 'failed';
  }
}

const PARTIAL_OUTPUT_CHARS = 2000;

/** crash_info for a crashed run, shaped as Stromboli's (exit_code, signal, reason, partial_output). */
export function crashInfoOf(run: StoredRun): CrashInfo | undefined {
  const status = run.status;
  const reason = reasonOf(status);
  if (status?.phase !== 'Failed' || reason === undefined || !CRASH_REASONS.has(reason)) return undefined;
  const crash = status.crash ?? {};
  const exitCode = crash.exitCode ?? status.exitCode;
  const signal = crash.signal;
  let text: string;
  if (reason === Reasons.DeadlineExceeded) text = `timeout: ${status.message ?? 'the run exceeded its deadline'}`;
  else if (reason === Reasons.OOMKilled || crash.oomKilled === true) text = 'Process killed: out of memory';
  else if (signal !== undefined) text = `Process killed by ${signal}`;
  else text = `Process exited with code ${exitCode ?? 'unknown'}`;
  const partial = status.result ?? crash.stderrTail;
  return {
    ...compact({ exit_code: exitCode }),
    ...compact({ signal }),
    reason: text,
    ...(partial === undefined || partial === '' ? {} : { partial_output: partial.length > PARTIAL_OUTPUT_CHARS ? `...${partial.slice(-PARTIAL_OUTPUT_CHARS)}` : partial }),
  };
}

/** What a failed (not crashed, not cancelled) run answers: its HTTP status and error text. */
export interface Failure {
  reason: string;
  httpStatus: 400 | 500;
  error: string;
}

export function failureOf(run: StoredRun): Failure {
  const reason = reasonOf(run.status) ?? 'Unknown';
  const message = run.status?.message ?? 'the run failed';
  const requestPrefix = REQUEST_REASONS.get(reason);
  if (requestPrefix !== undefined) {
    // The controller's own messages usually carry Stromboli's prefix already.
    return { reason, httpStatus: 400, error: message.startsWith(`${requestPrefix}: `) ? message : `${requestPrefix}: ${message}` };
  }
  // Stromboli: "execution failed: exit status N, output: …" with 500. The reason is kept in the
  // text so a client can tell max-turns from an API error without parsing prose.
  return { reason, httpStatus: 500, error: `execution failed: ${reason}: ${message}` };
}

/** The flat usage Stromboli returns, from the CLI's result event (this run only). */
export function usageOf(run: StoredRun): Usage | undefined {
  const usage = run.status?.usage;
  if (usage === undefined) return undefined;
  const input = usage.inputTokens ?? 0;
  const output = usage.outputTokens ?? 0;
  const cacheCreation = usage.cacheCreationInputTokens ?? 0;
  const cacheRead = usage.cacheReadInputTokens ?? 0;
  return {
    model: usage.model ?? '',
    input_tokens: input,
    output_tokens: output,
    cache_creation_input_tokens: cacheCreation,
    cache_read_input_tokens: cacheRead,
    total_tokens: input + output + cacheCreation + cacheRead,
    estimated_cost_usd: Math.round((usage.costUSD ?? 0) * 1e6) / 1e6,
  };
}

/** RFC 3339 in whole seconds (Stromboli's `2006-01-02T15:04:05Z07:00`), in UTC. */
export function toRfc3339Seconds(time: string | number): string | undefined {
  const ms = typeof time === 'number' ? time : Date.parse(time);
  if (!Number.isFinite(ms)) return undefined;
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** The last time anything visible changed: creation, start, completion or a condition transition. */
export function updatedAtOf(run: StoredRun): string {
  const status = run.status;
  const times = [run.metadata.creationTimestamp, status?.startTime, status?.completionTime, ...(status?.conditions ?? []).map((c) => c.lastTransitionTime)]
    .map((t) => (t === undefined ? Number.NaN : Date.parse(t)))
    .filter((t) => Number.isFinite(t));
  const latest = times.length === 0 ? Date.now() : Math.max(...times);
  return toRfc3339Seconds(latest) ?? run.metadata.creationTimestamp;
}

export function createdAtOf(run: StoredRun): string {
  return toRfc3339Seconds(run.metadata.creationTimestamp) ?? run.metadata.creationTimestamp;
}
