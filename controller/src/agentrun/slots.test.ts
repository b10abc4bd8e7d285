import { describe, expect, it } from 'vitest';
import { Slots } from './slots.ts';

describe('Slots', () => {
  it('grants up to the limit, then queues', () => {
    const slots = new Slots({ limit: 2 });
    expect(slots.tryAcquire('a', 0, 1)).toBe(true);
    expect(slots.tryAcquire('b', 0, 2)).toBe(true);
    expect(slots.tryAcquire('c', 0, 3)).toBe(false);
    expect(slots.running).toBe(2);
    expect(slots.waiting).toBe(1);
  });

  it('is idempotent for a key that already holds a slot', () => {
    const slots = new Slots({ limit: 1 });
    expect(slots.tryAcquire('a', 0, 1)).toBe(true);
    expect(slots.tryAcquire('a', 0, 1)).toBe(true);
    expect(slots.running).toBe(1);
  });

  it('hands a free slot to the highest priority, then the oldest, and wakes exactly those', () => {
    const woken: string[][] = [];
    const slots = new Slots({ limit: 1, wake: (keys) => woken.push(keys) });
    slots.tryAcquire('running', 0, 0);
    slots.register('old', 0, 1);
    slots.register('young', 0, 5);
    slots.register('urgent', 10, 9);
    // A run that is not next in line may not jump the queue even when it asks first.
    slots.release('running');
    expect(woken).toEqual([['urgent']]);
    expect(slots.tryAcquire('old', 0, 1)).toBe(false);
    expect(slots.tryAcquire('urgent', 10, 9)).toBe(true);
    slots.release('urgent');
    expect(woken[1]).toEqual(['old']);
  });

  it('counts adopted containers even above the limit, and does not wake anyone until below it', () => {
    const woken: string[][] = [];
    const slots = new Slots({ limit: 1, wake: (keys) => woken.push(keys) });
    slots.markRunning('x');
    slots.markRunning('y');
    slots.register('w', 0, 1);
    slots.release('x');
    expect(woken).toEqual([]);
    slots.release('y');
    expect(woken).toEqual([['w']]);
  });

  it('forgets a waiting run that is released (deleted, cancelled) without waking anyone', () => {
    const woken: string[][] = [];
    const slots = new Slots({ limit: 1, wake: (keys) => woken.push(keys) });
    slots.tryAcquire('a', 0, 0);
    slots.register('b', 0, 1);
    slots.release('b');
    expect(slots.waiting).toBe(0);
    expect(woken).toEqual([]);
  });
});
