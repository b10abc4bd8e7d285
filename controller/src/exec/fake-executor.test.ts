import { describe, expect, it } from 'vitest';
import { FAKE_UNMATCHED_EXIT_CODE, FakeExecutor, matchesArgv } from './fake-executor.ts';

async function collect(lines: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const line of lines) out.push(line);
  return out;
}

describe('matchesArgv', () => {
  it('matches an exact argv only when every element and the length agree', () => {
    expect(matchesArgv(['podman', 'ps'], ['podman', 'ps'])).toBe(true);
    expect(matchesArgv(['podman', 'ps'], ['podman', 'ps', '--all'])).toBe(false);
    expect(matchesArgv(['podman', 'ps'], ['podman'])).toBe(false);
  });

  it('matches a prefix', () => {
    expect(matchesArgv({ prefix: ['podman', 'ps'] }, ['podman', 'ps', '--all'])).toBe(true);
    expect(matchesArgv({ prefix: ['podman', 'ps'] }, ['podman', 'rm'])).toBe(false);
    expect(matchesArgv({ prefix: ['podman', 'ps'] }, ['podman'])).toBe(false);
  });

  it('matches by predicate', () => {
    expect(matchesArgv((argv) => argv.includes('--all'), ['podman', 'ps', '--all'])).toBe(true);
  });
});

describe('FakeExecutor.run', () => {
  it('answers with the canned result, defaulting to a clean success', async () => {
    const fake = new FakeExecutor().onRun(['podman', 'version'], { stdout: '4.3.1' });
    expect(await fake.run(['podman', 'version'])).toEqual({ exitCode: 0, stdout: '4.3.1', stderr: '', signal: undefined, timedOut: false, aborted: false });
  });

  it('answers with a function of the argv and options', async () => {
    const fake = new FakeExecutor().onRun({ prefix: ['cat'] }, (argv, options) => ({ stdout: `${argv.join(' ')}:${options.input ?? ''}` }));
    expect((await fake.run(['cat', '-'], { input: 'in' })).stdout).toBe('cat -:in');
  });

  it('supports async responses', async () => {
    const fake = new FakeExecutor().onRun(['x'], async () => {
      await Promise.resolve();
      return { exitCode: 4 };
    });
    expect((await fake.run(['x'])).exitCode).toBe(4);
  });

  it('uses the first matching rule, and skips a rule once its times are used up', async () => {
    const fake = new FakeExecutor()
      .onRun(['podman', 'image', 'exists', 'img'], { exitCode: 1 }, { times: 1 })
      .onRun({ prefix: ['podman', 'image'] }, { exitCode: 0 });
    expect((await fake.run(['podman', 'image', 'exists', 'img'])).exitCode).toBe(1);
    expect((await fake.run(['podman', 'image', 'exists', 'img'])).exitCode).toBe(0);
  });

  it('fails an unmatched command with exit 127 and a stderr naming the argv', async () => {
    const fake = new FakeExecutor();
    const result = await fake.run(['podman', 'ps', '--all']);
    expect(result.exitCode).toBe(FAKE_UNMATCHED_EXIT_CODE);
    expect(result.stderr).toBe('fake-executor: no rule matches argv ["podman","ps","--all"]');
    expect(fake.calls).toEqual([{ kind: 'run', argv: ['podman', 'ps', '--all'], options: {}, matched: false }]);
  });

  it('records every call in order, with copies of argv and options', async () => {
    const fake = new FakeExecutor().onRun({ prefix: [] }, {});
    const argv = ['a', '1'];
    await fake.run(argv, { input: 'v', timeoutMs: 5 });
    argv.push('mutated');
    fake.stream(['b']);
    expect(fake.calls).toEqual([
      { kind: 'run', argv: ['a', '1'], options: { input: 'v', timeoutMs: 5 }, matched: true },
      { kind: 'stream', argv: ['b'], options: {}, matched: false },
    ]);
    expect(fake.argvs).toEqual([['a', '1'], ['b']]);
  });

  it('returns an aborted result when the signal is already aborted', async () => {
    const fake = new FakeExecutor().onRun(['sleep'], { exitCode: 0 });
    const result = await fake.run(['sleep'], { signal: AbortSignal.abort() });
    expect(result).toMatchObject({ exitCode: undefined, signal: 'SIGTERM', aborted: true });
  });

  it('refuses a times option that is not a positive integer', () => {
    expect(() => new FakeExecutor().onRun(['x'], {}, { times: 0 })).toThrow('times must be a positive integer, got 0 (number)');
  });
});

describe('FakeExecutor.stream', () => {
  it('yields the canned lines and resolves done with the canned result', async () => {
    const fake = new FakeExecutor().onStream({ prefix: ['podman', 'logs'] }, { lines: ['one', 'two'], result: { exitCode: 0, stderr: 'warn' } });
    const handle = fake.stream(['podman', 'logs', '--follow', 'c1']);
    expect(await collect(handle.lines)).toEqual(['one', 'two']);
    expect(await handle.done).toMatchObject({ exitCode: 0, stderr: 'warn' });
  });

  it('keeps a stream open until the signal aborts when untilAborted is set', async () => {
    const fake = new FakeExecutor().onStream(['podman', 'logs', '-f', 'c1'], { lines: ['first'], untilAborted: true });
    const controller = new AbortController();
    const handle = fake.stream(['podman', 'logs', '-f', 'c1'], { signal: controller.signal });
    const iterator = handle.lines[Symbol.asyncIterator]();
    expect(await iterator.next()).toEqual({ done: false, value: 'first' });
    let settled = false;
    void handle.done.then(() => {
      settled = true;
    });
    const rest = iterator.next();
    await Promise.resolve();
    expect(settled).toBe(false);
    controller.abort();
    expect(await rest).toEqual({ done: true, value: undefined });
    expect(await handle.done).toMatchObject({ aborted: true, signal: 'SIGTERM' });
  });

  it('refuses untilAborted without a signal, since the stream would never end', () => {
    const fake = new FakeExecutor().onStream(['x'], { untilAborted: true });
    expect(() => fake.stream(['x'])).toThrow('needs options.signal');
  });

  it('ends an unmatched stream at once with exit 127', async () => {
    const handle = new FakeExecutor().stream(['podman', 'logs', 'nope']);
    expect(await collect(handle.lines)).toEqual([]);
    expect(await handle.done).toMatchObject({ exitCode: 127, stderr: 'fake-executor: no rule matches argv ["podman","logs","nope"]' });
  });

  it('keeps run rules and stream rules apart', async () => {
    const fake = new FakeExecutor().onStream(['podman', 'logs', 'c1'], { lines: ['x'] });
    expect((await fake.run(['podman', 'logs', 'c1'])).exitCode).toBe(127);
  });
});
