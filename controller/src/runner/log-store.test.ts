import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogStore } from './log-store.ts';

let dir: string;
let logs: LogStore;
const live = { namespace: 'default', name: 'a', uid: 'u-live' };
const gone = { namespace: 'default', name: 'b', uid: 'u-gone' };
const orphan = { namespace: 'team', name: 'c', uid: 'u-orphan' };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'logs-'));
  logs = new LogStore({ root: dir });
  for (const run of [live, gone, orphan]) {
    const sink = await logs.openForAppend(run, 1);
    sink.append('{"type":"system","subtype":"init"}');
    await sink.close();
  }
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const exists = async (path: string) => (await stat(path).catch(() => undefined)) !== undefined;

describe('LogStore', () => {
  it('re-opening for append reports the complete lines and cuts a torn last line', async () => {
    const sink = await logs.openForAppend(live, 2);
    sink.append('one');
    await sink.close();
    const { appendFile } = await import('node:fs/promises');
    await appendFile(logs.stdoutPath(live, 2), 'torn-without-newline');
    const again = await logs.openForAppend(live, 2);
    expect(again.existingLines).toBe(1);
    again.append('two');
    await again.close();
    expect(await logs.read(live, 2)).toBe('one\ntwo\n');
  });

  it('sweeps a deleted run once its retention passed, never a live one, and marks orphans first', async () => {
    const now = Date.parse('2026-11-29T12:00:00Z');
    await logs.retainUntil(gone, now - 1);
    const removed = await logs.sweep(new Set([live.uid]), now, 60_000);
    expect(removed).toEqual([logs.runDir(gone)]);
    expect(await exists(logs.runDir(live))).toBe(true);
    expect(await exists(logs.runDir(gone))).toBe(false);
    expect(await readdir(join(dir, 'default'))).toEqual(['a']);
    // The orphan (no retention mark: deleted while nothing ran) got one, and goes after it.
    expect(await exists(logs.runDir(orphan))).toBe(true);
    expect(await logs.sweep(new Set([live.uid]), now + 59_000, 60_000)).toEqual([]);
    expect(await logs.sweep(new Set([live.uid]), now + 60_000, 60_000)).toEqual([logs.runDir(orphan)]);
  });
});
