// The one place that turns how a reconcile ended into what the loop does next (the four-way
// switch of CR:pkg/internal/controller/controller.go, with kopf's error classes). Pure: the
// controller applies the decision to the queue and the log.

import { ConflictError, TerminalError, TransientError, boundedMessage } from '../../../contract/errors.ts';
import type { Backoff } from '../../../contract/backoff.ts';

/** Metric label of one finished reconcile. */
export type ReconcileOutcome = 'success' | 'requeue' | 'terminal' | 'transient' | 'conflict' | 'error';

/** Default of errorAfterFailures: about 15 s of failing at the default backoff (0.5+1+2+4+8 s). */
export const DEFAULT_ERROR_AFTER_FAILURES = 5;

/** How one reconcile ended: what it resolved with, or what it threw (anything at all). */
export type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Inputs of decideRetry. */
export interface RetryInput {
  settled: Settled;
  /** Consecutive failures of this key before this attempt (the queue's count). */
  previousFailures: number;
  /** Delay for the n-th consecutive failure. */
  backoff: Backoff;
  /** From this many consecutive failures on, failures log at error level. Default 5. */
  errorAfterFailures?: number;
}

/** When the key should run again. */
export type Requeue = { kind: 'none' } | { kind: 'now' } | { kind: 'after'; ms: number };

/** What the loop does after one reconcile. */
export interface RetryDecision {
  outcome: ReconcileOutcome;
  requeue: Requeue;
  /** Reset the key's failure count (true), or count this attempt as one more failure (false). */
  forget: boolean;
  /** Consecutive failures including this attempt; 0 when forgotten. Logged as `attempt`. */
  failures: number;
  level: 'debug' | 'info' | 'warn' | 'error';
  /** Constant, lowercase; variables go in fields. */
  message: string;
  /** What was thrown, as an Error (non-Errors are wrapped), for the `err` log field. */
  error?: Error;
}

/**
 * Decides requeue, failure count and log level for one reconcile:
 * - success with requeueAfterMs → after that delay, forget (0 = now);
 * - success without → no requeue, forget;
 * - TerminalError → no requeue, forget, warn once;
 * - TransientError → after exactly retryAfterMs (backoff if that is not a number >= 0), counted;
 * - ConflictError → now the first time, backoff(failures - 1) when it repeats, counted;
 * - anything else, including non-Errors and an invalid result → backoff(failures), counted.
 * Counted failures log at warn (info for transient and conflict, which are expected) and at
 * error from `errorAfterFailures` consecutive failures on.
 */
export function decideRetry(input: RetryInput): RetryDecision {
  const { settled, previousFailures, backoff } = input;
  const errorAfter = input.errorAfterFailures ?? DEFAULT_ERROR_AFTER_FAILURES;
  const failures = previousFailures + 1;
  const escalate = (level: 'info' | 'warn'): 'info' | 'warn' | 'error' => (failures >= errorAfter ? 'error' : level);

  if (settled.ok) {
    const result = parseResult(settled.value);
    if (result instanceof TypeError) {
      return failed('error', { kind: 'after', ms: backoff(failures) }, escalate('warn'), 'reconcile failed', result);
    }
    if (result.requeueAfterMs === undefined) {
      return { outcome: 'success', requeue: { kind: 'none' }, forget: true, failures: 0, level: 'debug', message: 'reconcile succeeded' };
    }
    const requeue: Requeue = result.requeueAfterMs === 0 ? { kind: 'now' } : { kind: 'after', ms: result.requeueAfterMs };
    return { outcome: 'requeue', requeue, forget: true, failures: 0, level: 'debug', message: 'reconcile succeeded' };
  }

  const { error } = settled;
  if (error instanceof TerminalError) {
    return { outcome: 'terminal', requeue: { kind: 'none' }, forget: true, failures: 0, level: 'warn', message: 'reconcile failed permanently', error };
  }
  if (error instanceof TransientError) {
    const ms = isDelay(error.retryAfterMs) ? error.retryAfterMs : backoff(failures);
    return failed('transient', ms === 0 ? { kind: 'now' } : { kind: 'after', ms }, escalate('info'), 'reconcile deferred', error);
  }
  if (error instanceof ConflictError) {
    const requeue: Requeue = failures === 1 ? { kind: 'now' } : { kind: 'after', ms: backoff(failures - 1) };
    return failed('conflict', requeue, escalate('info'), 'reconcile conflict', error);
  }
  return failed('error', { kind: 'after', ms: backoff(failures) }, escalate('warn'), 'reconcile failed', toError(error));

  function failed(outcome: ReconcileOutcome, requeue: Requeue, level: RetryDecision['level'], message: string, err: Error): RetryDecision {
    return { outcome, requeue, forget: false, failures, level, message, error: err };
  }
}

/**
 * Wraps a thrown non-Error (a string, undefined, a plain object) in an Error with a bounded
 * description, so the log always gets an `err` with a message and stack.
 */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(`reconciler threw a non-Error value: ${boundedMessage(describe(value), 200)}`, { cause: value });
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return String(value);
  try {
    return JSON.stringify(value) ?? Object.prototype.toString.call(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function isDelay(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

// Reconcilers are typed, but a JS one may resolve with nothing (treated as {}) or junk.
function parseResult(value: unknown): { requeueAfterMs: number | undefined } | TypeError {
  if (value === undefined || value === null) return { requeueAfterMs: undefined };
  if (typeof value !== 'object') return new TypeError(`reconciler resolved with a ${typeof value}, expected a ReconcileResult object`);
  const ms: unknown = 'requeueAfterMs' in value ? value.requeueAfterMs : undefined;
  if (ms === undefined || isDelay(ms)) return { requeueAfterMs: ms };
  return new TypeError(`reconcile result requeueAfterMs must be a finite number >= 0, got ${String(ms)} (${typeof ms})`);
}
