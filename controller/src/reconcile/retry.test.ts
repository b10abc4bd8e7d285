import { describe, expect, it } from 'vitest';
import { ConflictError, TerminalError, TransientError } from '../../../contract/errors.ts';
import { createBackoff } from '../../../contract/backoff.ts';
import { decideRetry, toError } from './retry.ts';
import type { Settled } from './retry.ts';

// 500, 1000, 2000, … without jitter, so delays are exact.
const backoff = createBackoff({ jitter: 'none' });
const decide = (settled: Settled, previousFailures = 0) => decideRetry({ settled, previousFailures, backoff, errorAfterFailures: 5 });
const ok = (value: unknown): Settled => ({ ok: true, value });
const threw = (error: unknown): Settled => ({ ok: false, error });

describe('decideRetry', () => {
  it('forgets and does not requeue a success without requeueAfterMs', () => {
    expect(decide(ok({}), 3)).toEqual({ outcome: 'success', requeue: { kind: 'none' }, forget: true, failures: 0, level: 'debug', message: 'reconcile succeeded' });
  });

  it('treats a reconciler that resolves with nothing as a plain success', () => {
    expect(decide(ok(undefined)).outcome).toBe('success');
    expect(decide(ok(null)).outcome).toBe('success');
  });

  it('forgets and requeues after exactly requeueAfterMs, and at once for 0', () => {
    expect(decide(ok({ requeueAfterMs: 30_000 }), 2)).toMatchObject({ outcome: 'requeue', requeue: { kind: 'after', ms: 30_000 }, forget: true, failures: 0, level: 'debug' });
    expect(decide(ok({ requeueAfterMs: 0 })).requeue).toEqual({ kind: 'now' });
  });

  it.each([[-1], [Number.NaN], [Number.POSITIVE_INFINITY], ['10']])('backs off on an invalid requeueAfterMs of %s, naming it', (ms) => {
    const decision = decide(ok({ requeueAfterMs: ms }));
    expect(decision).toMatchObject({ outcome: 'error', requeue: { kind: 'after', ms: 500 }, forget: false, failures: 1, level: 'warn' });
    expect(decision.error?.message).toContain(`got ${String(ms)}`);
  });

  it('backs off when a reconciler resolves with something that is not a result', () => {
    expect(decide(ok(42))).toMatchObject({ outcome: 'error', error: { name: 'TypeError' } });
  });

  it('forgets a TerminalError without requeue and logs it at warn', () => {
    const error = new TerminalError('WorkspaceNotAllowed', 'workspace outside the allowlist');
    expect(decide(threw(error), 4)).toEqual({ outcome: 'terminal', requeue: { kind: 'none' }, forget: true, failures: 0, level: 'warn', message: 'reconcile failed permanently', error });
  });

  it('retries a TransientError after exactly retryAfterMs, counting the failure', () => {
    expect(decide(threw(new TransientError('image pull in progress', 7_000)), 1)).toMatchObject({
      outcome: 'transient',
      requeue: { kind: 'after', ms: 7_000 },
      forget: false,
      failures: 2,
      level: 'info',
      message: 'reconcile deferred',
    });
    expect(decide(threw(new TransientError('now', 0))).requeue).toEqual({ kind: 'now' });
  });

  it('falls back to backoff for a TransientError whose retryAfterMs is not a delay', () => {
    expect(decide(threw(new TransientError('bad', Number.NaN)), 2).requeue).toEqual({ kind: 'after', ms: 2_000 });
  });

  it('retries a first ConflictError at once and backs off when conflicts repeat', () => {
    expect(decide(threw(new ConflictError('stale')), 0)).toMatchObject({ outcome: 'conflict', requeue: { kind: 'now' }, failures: 1, level: 'info' });
    expect(decide(threw(new ConflictError('stale')), 1).requeue).toEqual({ kind: 'after', ms: 500 });
    expect(decide(threw(new ConflictError('stale')), 2).requeue).toEqual({ kind: 'after', ms: 1_000 });
  });

  it('backs off exponentially on any other error and escalates to error level at the fifth consecutive failure', () => {
    const rows = [0, 1, 2, 3, 4, 5].map((previous) => decide(threw(new Error('podman is down')), previous));
    expect(rows.map((d) => d.requeue)).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000].map((ms) => ({ kind: 'after', ms })));
    expect(rows.map((d) => d.failures)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(rows.map((d) => d.level)).toEqual(['warn', 'warn', 'warn', 'warn', 'error', 'error']);
    expect(rows.every((d) => d.outcome === 'error' && !d.forget && d.message === 'reconcile failed')).toBe(true);
  });

  it('escalates repeated transient errors and conflicts to error level too', () => {
    expect(decide(threw(new TransientError('not yet', 1_000)), 4).level).toBe('error');
    expect(decide(threw(new ConflictError('stale')), 4).level).toBe('error');
  });

  it.each([
    ['a string', 'boom', 'reconciler threw a non-Error value: "boom"'],
    ['undefined', undefined, 'reconciler threw a non-Error value: undefined'],
    ['null', null, 'reconciler threw a non-Error value: null'],
    ['an object', { code: 42 }, 'reconciler threw a non-Error value: {"code":42}'],
  ])('backs off on %s thrown, wrapped in an Error', (_label, value, message) => {
    const decision = decide(threw(value));
    expect(decision).toMatchObject({ outcome: 'error', requeue: { kind: 'after', ms: 500 }, level: 'warn' });
    expect(decision.error).toBeInstanceOf(Error);
    expect(decision.error?.message).toBe(message);
    expect(decision.error?.cause).toBe(value);
  });
});

describe('toError', () => {
  it('returns Errors unchanged', () => {
    const error = new RangeError('x');
    expect(toError(error)).toBe(error);
  });

  it('bounds the description of a huge or unserialisable value', () => {
    expect(toError('x'.repeat(10_000)).message.length).toBeLessThan(260);
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(toError(cyclic).message).toBe('reconciler threw a non-Error value: [object Object]');
    expect(toError(Symbol('s')).message).toBe('reconciler threw a non-Error value: Symbol(s)');
  });
});
