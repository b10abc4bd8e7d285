// Exponential backoff with a cap and jitter, as a pure function of the attempt number.
// Used for failing reconciles (per key) and for restarting a broken watch.
//
// Default jitter is "equal" (half the delay fixed, half random), not "full" (anywhere from 0 to
// the delay). Full jitter spreads many clients competing for one resource best, but it can pick
// a near-zero delay at any attempt, so a key that failed ten times may retry almost at once. Our
// case is one key hammering a broken dependency (podman, the API server): equal jitter still
// spreads keys that failed together over [d/2, d], and guarantees the wait keeps growing.

/** How the random part of the delay is drawn; see the file comment for why `equal` is the default. */
export type Jitter = 'equal' | 'full' | 'none';

/** Tuning of a backoff; every field is optional. */
export interface BackoffOptions {
  /** Delay of the first attempt before jitter, in ms. Default 500. */
  baseMs?: number;
  /** Multiplier per further attempt, at least 1. Default 2. */
  factor?: number;
  /** Upper bound of any delay, in ms, at least baseMs. Default 300_000 (5 min). */
  capMs?: number;
  /** `equal`: uniform in [d/2, d]; `full`: uniform in [0, d]; `none`: exactly d. Default `equal`. */
  jitter?: Jitter;
  /** Uniform source in [0, 1), injectable for tests. Default Math.random. */
  random?: () => number;
}

/** The defaults, named so callers and docs can refer to them. */
export const DEFAULT_BACKOFF: Readonly<Required<Omit<BackoffOptions, 'random'>>> = {
  baseMs: 500,
  factor: 2,
  capMs: 300_000,
  jitter: 'equal',
};

/** Maps an attempt number (1 = first retry) to a delay in whole ms. */
export type Backoff = (attempt: number) => number;

/**
 * Validates `options` once and returns the delay function, so a bad configuration fails at
 * start-up rather than on the first error.
 */
export function createBackoff(options: BackoffOptions = {}): Backoff {
  const baseMs = options.baseMs ?? DEFAULT_BACKOFF.baseMs;
  const factor = options.factor ?? DEFAULT_BACKOFF.factor;
  const capMs = options.capMs ?? DEFAULT_BACKOFF.capMs;
  const jitter = options.jitter ?? DEFAULT_BACKOFF.jitter;
  const random = options.random ?? Math.random;

  assertNumber('baseMs', baseMs, Number.isFinite(baseMs) && baseMs >= 0, 'a finite number >= 0');
  assertNumber('factor', factor, Number.isFinite(factor) && factor >= 1, 'a finite number >= 1');
  assertNumber('capMs', capMs, Number.isFinite(capMs) && capMs >= baseMs, `a finite number >= baseMs (${baseMs})`);
  if (jitter !== 'equal' && jitter !== 'full' && jitter !== 'none') {
    throw new RangeError(`backoff jitter must be 'equal', 'full' or 'none', got ${String(jitter)}`);
  }

  return (attempt: number): number => {
    assertNumber('attempt', attempt, Number.isInteger(attempt) && attempt >= 1, 'an integer >= 1');
    // factor ** large is Infinity, and min() turns it into the cap; base 0 would make it NaN.
    const exponential = baseMs === 0 ? 0 : baseMs * factor ** (attempt - 1);
    const delay = Math.min(capMs, exponential);
    if (jitter === 'none') return Math.round(delay);
    const r = clampUnit(random());
    return Math.round(jitter === 'full' ? r * delay : delay / 2 + (r * delay) / 2);
  };
}

/** One-off form of createBackoff, for callers that do not keep the function. */
export function backoffDelayMs(attempt: number, options: BackoffOptions = {}): number {
  return createBackoff(options)(attempt);
}

function assertNumber(name: string, value: number, ok: boolean, expected: string): void {
  if (!ok) throw new RangeError(`backoff ${name} must be ${expected}, got ${String(value)} (${typeof value})`);
}

// A broken random source must not produce negative or oversized delays.
function clampUnit(value: number): number {
  if (!Number.isFinite(value) || value < 0) return 0;
  return value >= 1 ? 1 : value;
}
