import { describe, expect, it } from 'vitest';
import { forEachLimited, GroupCommit } from './group-commit.ts';

describe('GroupCommit', () => {
  it('writes what arrives during a flush together in the next one, and settles each caller with its own group', async () => {
    const groups: string[][] = [];
    let release: () => void = () => undefined;
    const commit = new GroupCommit<string>(async (items) => {
      groups.push([...items]);
      if (groups.length === 1) await new Promise<void>((done) => (release = done));
    });
    const first = commit.submit('a');
    const sameTick = commit.submit('b');
    await Promise.resolve();
    await Promise.resolve();
    const later = [commit.submit('c'), commit.submit('d'), commit.submit('e')];
    let firstDone = false;
    void first.then(() => (firstDone = true));
    await new Promise(setImmediate);
    expect(firstDone).toBe(false); // not acknowledged before its flush ends
    release();
    await Promise.all([first, sameTick, ...later]);
    expect(groups).toEqual([
      ['a', 'b'],
      ['c', 'd', 'e'],
    ]);
    expect(commit.flushes).toBe(2);
  });

  it('fails every item of a group whose flush throws, refuses single items, and goes on with the next group', async () => {
    let calls = 0;
    const commit = new GroupCommit<string>(async (items) => {
      calls += 1;
      if (calls === 1) throw new Error('disk full');
      return items.map((item) => (item === 'refused' ? new Error('refused') : undefined));
    });
    const failed = [commit.submit('a'), commit.submit('b')].map((p) => p.catch((err: unknown) => (err instanceof Error ? err.message : '')));
    expect(await Promise.all(failed)).toEqual(['disk full', 'disk full']);
    const refused = commit.submit('refused').catch((err: unknown) => (err instanceof Error ? err.message : ''));
    const ok = commit.submit('ok');
    expect(await refused).toBe('refused');
    await expect(ok).resolves.toBeUndefined();
    await commit.drain();
  });
});

describe('forEachLimited', () => {
  it('keeps at most `limit` items in flight, runs every item, and rejects with the first failure after all settled', async () => {
    let inFlight = 0;
    let most = 0;
    const seen: number[] = [];
    const items = Array.from({ length: 20 }, (_, i) => i);
    const result = forEachLimited(items, 3, async (i) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await new Promise(setImmediate);
      seen.push(i);
      inFlight -= 1;
      if (i === 5) throw new Error('five');
    });
    await expect(result).rejects.toThrow('five');
    expect(most).toBe(3);
    expect(seen.sort((a, b) => a - b)).toEqual(items);
  });
});
