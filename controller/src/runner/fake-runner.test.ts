import { describe, expect, it } from 'vitest';
import { TerminalError } from '../../../contract/errors.ts';
import { FakeAgentRunner, successTranscript } from './fake-runner.ts';
import type { FakeScript } from './fake-runner.ts';
import { Labels, containerName } from './names.ts';
import type { StartRequest } from './types.ts';
import { compact } from '../../../contract/compact.ts';

const run = { namespace: 'default', name: 'r', uid: 'uid-1' };
const T0 = Date.parse('2026-01-01T00:00:00Z');

function request(attempt = 1, prompt = 'hi'): StartRequest {
  return { run, attempt, containerName: containerName(run, attempt), sessionId: 's-1', resume: false, spec: { prompt }, deadlineSeconds: 60 };
}

function runnerWith(script?: FakeScript): { runner: FakeAgentRunner; ended: string[] } {
  const ended: string[] = [];
  const runner = new FakeAgentRunner({ ...compact({ script }), now: () => T0, onOutputEnd: (r) => ended.push(r.uid) });
  return { runner, ended };
}

describe('FakeAgentRunner', () => {
  it('by default succeeds at once with an echo transcript, which collect() summarises', async () => {
    const { runner, ended } = runnerWith();
    await runner.start(request());
    const name = containerName(run, 1);
    expect(await runner.inspect(name)).toMatchObject({ running: false, finished: true, exitCode: 0 });
    expect(runner.output(run, 1)).toEqual(successTranscript('s-1', 'echo: hi'));
    const record = await runner.collect(run, 1, name);
    expect(record.summary.result).toMatchObject({ subtype: 'success', result: 'echo: hi' });
    expect(record.logPath).toBe(runner.logPath(run, 1));
    expect(ended).toEqual(['uid-1']);
  });

  it('adopts a container of the same name instead of starting a second one', async () => {
    const { runner } = runnerWith(() => undefined);
    await runner.start(request());
    await runner.start(request());
    expect(runner.starts.map((s) => s.adopted)).toEqual([false, true]);
    expect(runner.runningCount()).toBe(1);
    expect(runner.uidOf(containerName(run, 1))).toBe('uid-1');
    expect((await runner.listManaged())[0]?.labels[Labels.uid]).toBe('uid-1');
  });

  it('keeps a running container printing: lines are persisted as printed, the ending adds its own', async () => {
    const { runner, ended } = runnerWith(() => ({ running: true, stdout: ['one'] }));
    await runner.start(request());
    const name = containerName(run, 1);
    expect(await runner.inspect(name)).toMatchObject({ running: true, finished: false });
    runner.print(name, 'two');
    expect(runner.output(run, 1)).toEqual(['one', 'two']);
    expect(ended).toEqual([]);
    runner.finish(name, { exitCode: 0, stdout: ['three'] });
    expect(runner.output(run, 1)).toEqual(['one', 'two', 'three']);
    runner.print(name, 'after the end');
    expect(runner.output(run, 1)).toEqual(['one', 'two', 'three']);
    expect(ended).toEqual(['uid-1']);
  });

  it('refuses a start when the script throws, before any container exists', async () => {
    const refusal = new TerminalError('VolumeNotAllowed', 'volume validation failed: /etc is not allowed', { code: 'FORBIDDEN_PATH' });
    const { runner } = runnerWith(() => {
      throw refusal;
    });
    await expect(runner.start(request())).rejects.toBe(refusal);
    expect(runner.containers.size).toBe(0);
    expect(runner.starts).toEqual([]);
  });

  it('refuses a missing image with a terminal ImageNotFound', async () => {
    const { runner } = runnerWith();
    runner.missingImages.add('default');
    await expect(runner.start(request())).rejects.toMatchObject({ reason: 'ImageNotFound', code: 'IMAGE_NOT_FOUND' });
  });

  it('dates the end after the scripted runtime, so a run can end past its deadline', async () => {
    const { runner } = runnerWith((r) => ({ exitCode: 143, runtimeMs: r.deadlineSeconds * 1000 }));
    await runner.start(request());
    const seen = await runner.inspect(containerName(run, 1));
    expect(seen).toMatchObject({ exitCode: 143, startedAt: new Date(T0).toISOString(), finishedAt: new Date(T0 + 60_000).toISOString() });
  });

  it('reports an out-of-memory kill and the stderr tail', async () => {
    const { runner } = runnerWith(() => ({ exitCode: 137, oomKilled: true, stderr: 'killed' }));
    await runner.start(request());
    const name = containerName(run, 1);
    expect(await runner.inspect(name)).toMatchObject({ exitCode: 137, oomKilled: true });
    expect((await runner.collect(run, 1, name)).stderrTail).toBe('killed');
  });

  it('stops a running container with 143, keeping what it printed, and tells the owner', async () => {
    const { runner, ended } = runnerWith(() => ({ running: true, stdout: ['partial'] }));
    await runner.start(request());
    const name = containerName(run, 1);
    await runner.stop(name);
    expect(await runner.inspect(name)).toMatchObject({ finished: true, exitCode: 143 });
    expect(runner.output(run, 1)).toEqual(['partial']);
    expect(ended).toEqual(['uid-1']);
  });

  it('keeps the logs of a removed container, per attempt', async () => {
    const { runner } = runnerWith();
    await runner.start(request(1, 'first'));
    await runner.remove(containerName(run, 1));
    await runner.start(request(2, 'second'));
    expect(await runner.inspect(containerName(run, 1))).toBeUndefined();
    expect(runner.output(run, 1)).toEqual(successTranscript('s-1', 'echo: first'));
    expect(runner.output(run, 2)).toEqual(successTranscript('s-1', 'echo: second'));
  });
});
