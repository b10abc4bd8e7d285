import { describe, expect, it } from 'vitest';
import type { AgentRunSpec, AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import type { AttemptRecord, ObservedContainer } from '../runner/types.ts';
import { summarizeTranscript } from '../runner/stream-json.ts';
import { DEFAULT_DEADLINE_SECONDS, conclude, deadlineSeconds, decide, signalOf } from './phases.ts';
import type { Action, DecideInput } from './phases.ts';

const NOW = Date.parse('2026-11-29T12:00:00Z');
const spec: AgentRunSpec = { prompt: 'hi' };
const running: ObservedContainer = { name: 'c', running: true, finished: false, startedAt: new Date(NOW - 5_000).toISOString() };
const exited: ObservedContainer = { name: 'c', running: false, finished: true, exitCode: 0, startedAt: new Date(NOW - 5_000).toISOString(), finishedAt: new Date(NOW).toISOString() };

function input(over: Partial<DecideInput>): DecideInput {
  return { generation: 1, deleting: false, hasFinalizer: true, spec, status: undefined, container: undefined, now: NOW, pollMs: 10_000, ...over };
}

const st = (s: Partial<AgentRunStatus>): AgentRunStatus => s;

describe('decide', () => {
  const rows: Array<[string, Partial<DecideInput>, Action['type'] | Action]> = [
    ['deletion wins over everything', { deleting: true, status: st({ phase: 'Running' }), container: running }, 'finalize'],
    ['an invalid spec is rejected', { spec: undefined, specError: 'invalid spec: spec.prompt: required' }, { type: 'reject', reason: 'InvalidSpec', message: 'invalid spec: spec.prompt: required' }],
    ['a new run gets the finalizer first', { hasFinalizer: false }, 'add-finalizer'],
    ['a new run with the finalizer starts', {}, 'start'],
    ['a suspended run waits', { spec: { ...spec, suspend: true } }, 'suspend'],
    ['cancel before start', { spec: { ...spec, cancel: true } }, 'cancel'],
    ['cancel while running', { spec: { ...spec, cancel: true }, status: st({ phase: 'Running' }), container: running }, 'cancel'],
    ['suspend does not stop a running run', { spec: { ...spec, suspend: true }, status: st({ phase: 'Running', containerName: 'c' }), container: running }, { type: 'watch', requeueAfterMs: 10_000, adopt: false }],
    ['a container found while Pending is adopted', { status: st({ phase: 'Pending' }), container: running }, { type: 'watch', requeueAfterMs: 10_000, adopt: true }],
    ['an ended container is recorded', { status: st({ phase: 'Running', containerName: 'c' }), container: exited }, 'record-exit'],
    ['a vanished container is lost', { status: st({ phase: 'Running', containerName: 'c' }) }, 'lost'],
    [
      'the deadline passed',
      { spec: { ...spec, activeDeadlineSeconds: 3 }, status: st({ phase: 'Running', containerName: 'c' }), container: running },
      'deadline',
    ],
    [
      'the poll never oversleeps the deadline',
      { spec: { ...spec, activeDeadlineSeconds: 7 }, status: st({ phase: 'Running', containerName: 'c' }), container: running },
      { type: 'watch', requeueAfterMs: 2_000, adopt: false },
    ],
    ['a finished run settles', { status: st({ phase: 'Succeeded', observedGeneration: 1 }) }, { type: 'settle', removeContainer: false, recordGeneration: false, ttlDueInMs: undefined }],
    ['cancelled stays cancelled, even with cancel unset', { status: st({ phase: 'Cancelled', observedGeneration: 1 }), spec }, { type: 'settle', removeContainer: false, recordGeneration: false, ttlDueInMs: undefined }],
    ['a finished run does not rerun on a spec change', { generation: 2, status: st({ phase: 'Failed', observedGeneration: 1 }) }, { type: 'settle', removeContainer: false, recordGeneration: true, ttlDueInMs: undefined }],
    ['a leftover container of a finished run is removed', { status: st({ phase: 'Succeeded', observedGeneration: 1 }), container: exited }, { type: 'settle', removeContainer: true, recordGeneration: false, ttlDueInMs: undefined }],
    [
      'the TTL counts from completion',
      { spec: { ...spec, ttlSecondsAfterFinished: 60 }, status: st({ phase: 'Succeeded', observedGeneration: 1, completionTime: new Date(NOW - 20_000).toISOString() }) },
      { type: 'settle', removeContainer: false, recordGeneration: false, ttlDueInMs: 40_000 },
    ],
    ['a finished run with a broken spec still settles', { spec: undefined, specError: 'x', status: st({ phase: 'Succeeded', observedGeneration: 1 }) }, 'settle'],
  ];
  it.each(rows)('%s', (_name, over, expected) => {
    const action = decide(input(over));
    if (typeof expected === 'string') expect(action.type).toBe(expected);
    else expect(action).toEqual(expected);
  });
});

describe('deadlineSeconds', () => {
  it('prefers activeDeadlineSeconds, then podman.timeout, then 30 minutes', () => {
    expect(deadlineSeconds({ prompt: 'x', activeDeadlineSeconds: 5, podman: { timeout: '1h' } })).toBe(5);
    expect(deadlineSeconds({ prompt: 'x', podman: { timeout: '90s' } })).toBe(90);
    expect(deadlineSeconds({ prompt: 'x' })).toBe(DEFAULT_DEADLINE_SECONDS);
  });
});

function record(lines: object[], stderrTail = ''): AttemptRecord {
  return { summary: summarizeTranscript(lines.map((l) => JSON.stringify(l)).join('\n')), stderrTail, logPath: '/l' };
}

const init = { type: 'system', subtype: 'init', session_id: 's', model: 'm' };
const ok = { type: 'result', subtype: 'success', is_error: false, result: 'done', session_id: 's' };

describe('conclude', () => {
  const rows: Array<[string, Partial<Parameters<typeof conclude>[0]>, { phase: string; reason: string; retry?: boolean }]> = [
    ['success', { record: record([init, ok]) }, { phase: 'Succeeded', reason: 'Succeeded' }],
    ['success printed but a non-zero exit', { container: { ...exited, exitCode: 3 }, record: record([init, ok]) }, { phase: 'Failed', reason: 'NonZeroExit' }],
    ['max turns', { container: { ...exited, exitCode: 1 }, record: record([init, { type: 'result', subtype: 'error_max_turns', is_error: true, errors: ['Reached maximum number of turns (1)'] }]) }, { phase: 'Failed', reason: 'MaxTurns' }],
    ['budget', { container: { ...exited, exitCode: 1 }, record: record([{ type: 'result', subtype: 'error_max_budget_usd', is_error: true }]) }, { phase: 'Failed', reason: 'BudgetExceeded' }],
    [
      'API error is success+is_error',
      { container: { ...exited, exitCode: 1 }, record: record([{ type: 'result', subtype: 'success', is_error: true, result: 'API Error: 500', terminal_reason: 'api_error', api_error_status: 500 }]) },
      { phase: 'Failed', reason: 'ApiError' },
    ],
    ['other error subtypes', { container: { ...exited, exitCode: 1 }, record: record([{ type: 'result', subtype: 'error_during_execution', is_error: true }]) }, { phase: 'Failed', reason: 'ClaudeError' }],
    ['a signal without result crashes', { container: { ...exited, exitCode: 139 }, record: record([init]) }, { phase: 'Failed', reason: 'Crashed' }],
    ['podman --timeout (-1) after the deadline', { spec: { prompt: 'x', activeDeadlineSeconds: 2 }, container: { ...exited, exitCode: -1 }, record: record([init]) }, { phase: 'Failed', reason: 'DeadlineExceeded' }],
    ['stopped for the deadline', { container: { ...exited, exitCode: 143 }, record: record([init]), stoppedFor: 'deadline' }, { phase: 'Failed', reason: 'DeadlineExceeded' }],
    ['stopped for cancel', { container: { ...exited, exitCode: 143 }, record: record([init]), stoppedFor: 'cancel' }, { phase: 'Cancelled', reason: 'Cancelled' }],
    ['out of memory', { container: { ...exited, exitCode: 137, oomKilled: true }, record: record([init]) }, { phase: 'Failed', reason: 'OOMKilled' }],
    ['a plain non-zero exit', { container: { ...exited, exitCode: 2 }, record: record([init], 'boom\n') }, { phase: 'Failed', reason: 'NonZeroExit' }],
    ['exit 0 without result', { record: record([init]) }, { phase: 'Failed', reason: 'ClaudeError' }],
    ['a container that never started', { container: { name: 'c', running: false, finished: true }, record: record([]) }, { phase: 'Failed', reason: 'StartFailed' }],
    ['a crash is retried within backoffLimit', { spec: { prompt: 'x', backoffLimit: 1 }, attempt: 1, container: { ...exited, exitCode: 139 }, record: record([]) }, { phase: 'Failed', reason: 'Crashed', retry: true }],
    ['not past backoffLimit', { spec: { prompt: 'x', backoffLimit: 1 }, attempt: 2, container: { ...exited, exitCode: 139 }, record: record([]) }, { phase: 'Failed', reason: 'Crashed', retry: false }],
    ['max turns is never retried', { spec: { prompt: 'x', backoffLimit: 3 }, container: { ...exited, exitCode: 1 }, record: record([{ type: 'result', subtype: 'error_max_turns', is_error: true }]) }, { phase: 'Failed', reason: 'MaxTurns', retry: false }],
  ];
  it.each(rows)('%s', (_name, over, expected) => {
    const c = conclude({ spec, attempt: 1, container: exited, record: record([]), ...over });
    expect({ phase: c.phase, reason: c.reason, ...(expected.retry === undefined ? {} : { retry: c.retry }) }).toEqual(expected);
    expect(c.message.length).toBeGreaterThan(0);
  });

  it('tells a failed or timed-out lifecycle hook from a failed CLI, by the launcher\'s exit codes, only for a spec with hooks', () => {
    const withHooks = { prompt: 'x', podman: { lifecycle: { postStart: ['make setup'] } } };
    const failed = conclude({ spec: withHooks, attempt: 1, container: { ...exited, exitCode: 117 }, record: record([], 'npm notice\nstromboli-hooks: postStart[0] failed with exit code 2\n') });
    expect(failed).toMatchObject({ phase: 'Failed', reason: 'HookFailed', message: "postStart[0] failed with exit code 2; its output is in the run's log", retry: false });
    const late = conclude({ spec: withHooks, attempt: 1, container: { ...exited, exitCode: 118 }, record: record([], 'stromboli-hooks: the hooks ran past hooksTimeout (5s)\n') });
    expect(late).toMatchObject({ phase: 'Failed', reason: 'HookTimeout', message: "the hooks ran past hooksTimeout (5s); their output is in the run's log" });
    expect(conclude({ spec: { ...withHooks, backoffLimit: 1 }, attempt: 1, container: { ...exited, exitCode: 117 }, record: record([]) })).toMatchObject({ reason: 'HookFailed', retry: true });
    // Without hooks the same code is the CLI's own.
    expect(conclude({ spec, attempt: 1, container: { ...exited, exitCode: 117 }, record: record([init]) }).reason).toBe('NonZeroExit');
    // Once the CLI printed its result, the result decides.
    expect(conclude({ spec: withHooks, attempt: 1, container: { ...exited, exitCode: 0 }, record: record([init, ok]) }).reason).toBe('Succeeded');
  });

  it('names the signal of a crash', () => {
    expect(signalOf(139)).toBe('SIGSEGV');
    expect(signalOf(137)).toBe('SIGKILL');
    expect(signalOf(1)).toBeUndefined();
    const c = conclude({ spec, attempt: 1, container: { ...exited, exitCode: 139 }, record: record([]) });
    expect(c.message).toContain('SIGSEGV');
  });
});
