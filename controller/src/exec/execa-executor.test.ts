import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecaExecutor, STREAM_STDERR_MAX_BYTES } from './execa-executor.ts';

// Real tiny commands (sh, cat, sleep, printf): only a POSIX shell is needed, so these are unit tests.
const executor = new ExecaExecutor({ forceKillAfterMs: 200 });

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'execa-executor-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(lines: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const line of lines) out.push(line);
  return out;
}

describe('ExecaExecutor.run', () => {
  it('returns stdout, stderr and a zero exit code without the final newline', async () => {
    const result = await executor.run(['sh', '-c', 'echo out; echo err >&2']);
    expect(result).toEqual({ exitCode: 0, stdout: 'out', stderr: 'err', signal: undefined, timedOut: false, aborted: false });
  });

  it('returns a non-zero exit as a result instead of throwing', async () => {
    const result = await executor.run(['sh', '-c', 'echo nope >&2; exit 3']);
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toBe('nope');
  });

  it('passes arguments verbatim, with no shell to expand them', async () => {
    const result = await executor.run(['printf', '%s\\n', '$HOME', '*', '; echo injected', '$(id)']);
    expect(result.stdout.split('\n')).toEqual(['$HOME', '*', '; echo injected', '$(id)']);
  });

  it('gives the command an empty stdin when no input is set', async () => {
    const result = await executor.run(['cat']);
    expect(result).toMatchObject({ exitCode: 0, stdout: '' });
  });

  it('writes input to stdin', async () => {
    const result = await executor.run(['cat'], { input: 'through stdin\nsecond line' });
    expect(result.stdout).toBe('through stdin\nsecond line');
  });

  it('adds env to the inherited environment', async () => {
    const result = await executor.run(['sh', '-c', 'echo "$EXECA_TEST_VAR" && test -n "$PATH"'], { env: { EXECA_TEST_VAR: 'set' } });
    expect(result).toMatchObject({ exitCode: 0, stdout: 'set' });
  });

  it('runs in cwd', async () => {
    const result = await executor.run(['pwd'], { cwd: dir });
    expect(result.stdout).toBe(dir);
  });

  it('kills a command that exceeds timeoutMs and reports timedOut', async () => {
    const result = await executor.run(['sleep', '30'], { timeoutMs: 100 });
    expect(result).toMatchObject({ exitCode: undefined, signal: 'SIGTERM', timedOut: true, aborted: false });
  });

  it('sends SIGKILL after forceKillAfterMs when SIGTERM is ignored', async () => {
    const result = await executor.run(['sh', '-c', 'trap "" TERM; exec sleep 30'], { timeoutMs: 100 });
    expect(result).toMatchObject({ signal: 'SIGKILL', timedOut: true });
  });

  it('aborts a command through signal and reports aborted', async () => {
    const controller = new AbortController();
    const pending = executor.run(['sleep', '30'], { signal: controller.signal });
    controller.abort();
    expect(await pending).toMatchObject({ exitCode: undefined, signal: 'SIGTERM', timedOut: false, aborted: true });
  });

  it('reports a missing program as exit code 127', async () => {
    const result = await executor.run(['/nonexistent/stromboli-no-such-program', 'arg']);
    expect(result).toMatchObject({ exitCode: 127, stdout: '', signal: undefined });
    expect(result.stderr).toBe('ENOENT: cannot execute /nonexistent/stromboli-no-such-program');
  });

  it('reports a program that is not executable as exit code 126', async () => {
    const file = join(dir, 'not-executable');
    await writeFile(file, 'echo hi\n');
    await chmod(file, 0o644);
    expect((await executor.run([file])).exitCode).toBe(126);
  });

  it('refuses an empty argv and an invalid timeout, naming the bad value', async () => {
    await expect(executor.run([])).rejects.toThrow('argv must start with the program to run');
    await expect(executor.run(['true'], { timeoutMs: -1 })).rejects.toThrow('timeoutMs must be a positive number, got -1 (number)');
    expect(() => new ExecaExecutor({ forceKillAfterMs: 1.5 })).toThrow('got 1.5 (number)');
  });
});

describe('ExecaExecutor.stream', () => {
  it('yields stdout lines in order and resolves done with the exit code', async () => {
    const handle = executor.stream(['sh', '-c', 'echo one; echo two; echo err >&2; exit 2']);
    expect(await collect(handle.lines)).toEqual(['one', 'two']);
    expect(await handle.done).toEqual({ exitCode: 2, stdout: '', stderr: 'err', signal: undefined, timedOut: false, aborted: false });
  });

  it('yields a line as soon as it is written, before the process ends', async () => {
    const controller = new AbortController();
    const handle = executor.stream(['sh', '-c', 'echo first; exec sleep 30'], { signal: controller.signal });
    let settled = false;
    void handle.done.then(() => {
      settled = true;
    });
    const iterator = handle.lines[Symbol.asyncIterator]();
    expect(await iterator.next()).toEqual({ done: false, value: 'first' });
    expect(settled).toBe(false);
    controller.abort();
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
    expect(await handle.done).toMatchObject({ aborted: true, signal: 'SIGTERM' });
  });

  it('kills the process when the consumer stops iterating early', async () => {
    const handle = executor.stream(['sh', '-c', 'echo a; echo b; exec sleep 30']);
    for await (const line of handle.lines) {
      expect(line).toBe('a');
      break;
    }
    expect(await handle.done).toMatchObject({ signal: 'SIGTERM', exitCode: undefined });
  });

  it('keeps lines written before iteration starts', async () => {
    const handle = executor.stream(['sh', '-c', 'echo early; echo late']);
    await handle.done;
    expect(await collect(handle.lines)).toEqual(['early', 'late']);
  });

  it('ends a stream at timeoutMs', async () => {
    const handle = executor.stream(['sh', '-c', 'echo tick; exec sleep 30'], { timeoutMs: 200 });
    expect(await collect(handle.lines)).toEqual(['tick']);
    expect(await handle.done).toMatchObject({ timedOut: true });
  });

  it('keeps only the last STREAM_STDERR_MAX_BYTES of stderr for done', async () => {
    const script = 'i=0; while [ $i -lt 3000 ]; do echo "stderr line $i with some padding text" >&2; i=$((i+1)); done; echo END >&2';
    const handle = executor.stream(['sh', '-c', script]);
    expect(await collect(handle.lines)).toEqual([]);
    const { stderr, exitCode } = await handle.done;
    expect(exitCode).toBe(0);
    expect(Buffer.byteLength(stderr)).toBeLessThanOrEqual(STREAM_STDERR_MAX_BYTES);
    expect(Buffer.byteLength(stderr)).toBeGreaterThan(STREAM_STDERR_MAX_BYTES - 100);
    expect(stderr.endsWith('stderr line 2999 with some padding text\nEND')).toBe(true);
  });

  it('reports a missing program through done, with no lines', async () => {
    const handle = executor.stream(['/nonexistent/stromboli-no-such-program']);
    expect(await collect(handle.lines)).toEqual([]);
    expect((await handle.done).exitCode).toBe(127);
  });
});
