import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, backoffDelayMs, createBackoff } from './backoff.ts';

describe('createBackoff', () => {
  it('starts at the base and multiplies by the factor per attempt', () => {
    const delay = createBackoff({ jitter: 'none' });
    expect([1, 2, 3, 4, 5].map(delay)).toEqual([500, 1_000, 2_000, 4_000, 8_000]);
  });

  it('never exceeds the cap, even for huge attempt numbers', () => {
    const delay = createBackoff({ jitter: 'none' });
    expect(delay(20)).toBe(300_000);
    expect(delay(10_000)).toBe(300_000);
    expect(createBackoff({ jitter: 'full', random: () => 0.999999 })(10_000)).toBe(300_000);
  });

  it('uses equal jitter by default: a delay within [d/2, d] drawn from the injected random source', () => {
    expect(DEFAULT_BACKOFF.jitter).toBe('equal');
    expect(createBackoff({ random: () => 0 })(3)).toBe(1_000);
    expect(createBackoff({ random: () => 0.5 })(3)).toBe(1_500);
    expect(createBackoff({ random: () => 0.999999 })(3)).toBe(2_000);
  });

  it('spreads full jitter over [0, d]', () => {
    expect(createBackoff({ jitter: 'full', random: () => 0 })(3)).toBe(0);
    expect(createBackoff({ jitter: 'full', random: () => 0.25 })(3)).toBe(500);
  });

  it('keeps delays in range when the random source misbehaves', () => {
    expect(createBackoff({ random: () => Number.NaN })(1)).toBe(250);
    expect(createBackoff({ random: () => -3 })(1)).toBe(250);
    expect(createBackoff({ random: () => 7 })(1)).toBe(500);
  });

  it('honours custom base, factor and cap', () => {
    const delay = createBackoff({ baseMs: 100, factor: 3, capMs: 1_000, jitter: 'none' });
    expect([1, 2, 3, 4].map(delay)).toEqual([100, 300, 900, 1_000]);
  });

  it('returns 0 for every attempt with a zero base', () => {
    expect(createBackoff({ baseMs: 0, jitter: 'none' })(5_000)).toBe(0);
  });

  it('rejects invalid options when created, naming the bad value', () => {
    expect(() => createBackoff({ factor: 0.5 })).toThrow(/factor must be a finite number >= 1, got 0.5 \(number\)/);
    expect(() => createBackoff({ baseMs: -1 })).toThrow(RangeError);
    expect(() => createBackoff({ baseMs: 1_000, capMs: 10 })).toThrow(/capMs must be a finite number >= baseMs \(1000\), got 10/);
    expect(() => createBackoff({ capMs: Number.POSITIVE_INFINITY })).toThrow(RangeError);
  });

  it('rejects attempt numbers below 1 or not whole', () => {
    const delay = createBackoff();
    expect(() => delay(0)).toThrow(/attempt must be an integer >= 1, got 0/);
    expect(() => delay(1.5)).toThrow(RangeError);
  });
});

describe('backoffDelayMs', () => {
  it('is the one-off form of createBackoff', () => {
    expect(backoffDelayMs(2, { jitter: 'none' })).toBe(1_000);
  });
});
