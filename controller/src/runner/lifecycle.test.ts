import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LifecycleHooks } from '../../../contract/apis/v1alpha1/index.ts';
import { HOOK_FAILED_EXIT, HOOK_TIMEOUT_EXIT, SESSION_INIT_LOCK, SESSION_MARKER, hookEntrypoint, hooksTimeoutSeconds, shellQuote } from './lifecycle.ts';

const homes: string[] = [];
afterEach(() => {
  for (const home of homes.splice(0)) rmSync(home, { recursive: true, force: true });
});

function newHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'hooks-home-'));
  homes.push(home);
  return home;
}

/** Runs the entrypoint with the host's /bin/sh, as the container would, followed by a stand-in for the CLI. */
function launch(hooks: LifecycleHooks, home: string): { status: number | null; stdout: string; stderr: string } {
  const entrypoint = hookEntrypoint(hooks);
  if (entrypoint === undefined) throw new Error('no entrypoint');
  const [shell = '', ...args] = entrypoint;
  const result = spawnSync(shell, [...args, 'sh', '-c', 'echo "claude ran with $*"', 'claude', '-p', 'hi'], {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home },
    encoding: 'utf8',
    cwd: home,
    timeout: 30_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('hookEntrypoint', () => {
  it('is undefined without hooks, so the image entrypoint (the CLI) runs as before', () => {
    expect(hookEntrypoint(undefined)).toBeUndefined();
    expect(hookEntrypoint({})).toBeUndefined();
    expect(hookEntrypoint({ postStart: [], hooksTimeout: '5s' })).toBeUndefined();
  });

  it('runs onCreateCommand and postCreate once per session, postStart every run, then the command with its arguments', () => {
    const home = newHome();
    const hooks: LifecycleHooks = { onCreateCommand: ['echo create >> log'], postCreate: ['echo post-create >> log'], postStart: ['echo start >> log'] };
    writeFileSync(join(home, SESSION_INIT_LOCK), 'run-a\n'); // as the runner leaves it for this run
    const first = launch(hooks, home);
    expect(first).toMatchObject({ status: 0, stdout: 'claude ran with -p hi\n' });
    expect(readFileSync(join(home, SESSION_MARKER), 'utf8')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$/);
    expect(existsSync(join(home, SESSION_INIT_LOCK))).toBe(false);
    expect(launch(hooks, home).status).toBe(0);
    expect(readFileSync(join(home, 'log'), 'utf8')).toBe('create\npost-create\nstart\nstart\n');
  });

  it('takes each entry as one complete shell command, quotes included', () => {
    const home = newHome();
    const result = launch({ postStart: ["printf '%s\\n' \"it's\" && echo two | tr a-z A-Z > out"] }, home);
    expect(result.status).toBe(0);
    expect(readFileSync(join(home, 'out'), 'utf8')).toBe('TWO\n');
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });

  it('fails fast: the first failing hook ends the container with HOOK_FAILED_EXIT and says which, and neither later hooks nor the CLI run', () => {
    const home = newHome();
    const result = launch({ onCreateCommand: ['echo ok >> log'], postCreate: ['echo visible output; exit 3', 'echo never >> log'], postStart: ['echo never >> log'] }, home);
    expect(result.status).toBe(HOOK_FAILED_EXIT);
    expect(result.stdout).toBe('visible output\n');
    expect(result.stderr).toContain('stromboli-hooks: postCreate[0] failed with exit code 3');
    expect(readFileSync(join(home, 'log'), 'utf8')).toBe('ok\n');
    expect(existsSync(join(home, SESSION_MARKER))).toBe(false); // the next run of the session tries again
  });

  it('ends hooks that run past hooksTimeout with HOOK_TIMEOUT_EXIT', () => {
    const home = newHome();
    const result = launch({ postStart: ['sleep 20'], hooksTimeout: '1s' }, home);
    expect(result.status).toBe(HOOK_TIMEOUT_EXIT);
    expect(result.stderr).toContain('stromboli-hooks: the hooks ran past hooksTimeout (1s)');
    expect(result.stdout).not.toContain('claude ran');
  });

  it('keeps a failing hook a failure, not a timeout, under hooksTimeout', () => {
    const result = launch({ postStart: ['exit 4'], hooksTimeout: '30s' }, newHome());
    expect(result.status).toBe(HOOK_FAILED_EXIT);
    expect(result.stderr).toContain('postStart[0] failed with exit code 4');
  });

  it('rounds hooksTimeout up to whole seconds', () => {
    expect(hooksTimeoutSeconds({ hooksTimeout: '1.2s' })).toBe(2);
    expect(hooksTimeoutSeconds({ hooksTimeout: '1m30s' })).toBe(90);
    expect(hooksTimeoutSeconds({ hooksTimeout: '300ms' })).toBe(1);
    expect(hooksTimeoutSeconds({})).toBeUndefined();
  });
});
