import { describe, expect, it } from 'vitest';
import type { AgentRunStatus, Phase } from '../../../contract/apis/v1alpha1/index.ts';
import { conditionsFor } from '../../../contract/apis/v1alpha1/index.ts';
import type { LogReader, StoredRun } from '../../../contract/ports.ts';
import { outputOf } from './run-output.ts';
import { crashInfoOf, failureOf, jobStatusOf, toRfc3339Seconds, updatedAtOf, usageOf } from './run-view.ts';
import { compact } from '../../../contract/compact.ts';

function runWith(status: AgentRunStatus | undefined, spec: Record<string, unknown> = { prompt: 'x' }): StoredRun {
  return {
    apiVersion: 'stromboli.dev/v1alpha1',
    kind: 'AgentRun',
    metadata: { name: 'job-0000000000000001', namespace: 'default', uid: 'u1', generation: 1, resourceVersion: '1', creationTimestamp: '2026-01-01T10:00:00Z' },
    spec,
    ...compact({ status }),
  };
}

function statusOf(phase: Phase, reason: string, extra: Partial<AgentRunStatus> = {}): AgentRunStatus {
  return { phase, conditions: conditionsFor(undefined, phase, reason, extra.message, 1, '2026-01-01T10:00:05Z'), ...extra };
}

describe('jobStatusOf', () => {
  it.each([
    ['no status yet', undefined, {}, 'pending'],
    ['Pending/Queued', statusOf('Pending', 'Queued'), {}, 'pending'],
    ['Pending/Suspended', statusOf('Pending', 'Suspended'), {}, 'pending'],
    ['Pending/Retrying (between attempts)', statusOf('Pending', 'Retrying'), {}, 'running'],
    ['Running', statusOf('Running', 'Running'), {}, 'running'],
    ['Succeeded', statusOf('Succeeded', 'Succeeded'), {}, 'completed'],
    ['Failed/Crashed', statusOf('Failed', 'Crashed'), {}, 'crashed'],
    ['Failed/DeadlineExceeded', statusOf('Failed', 'DeadlineExceeded'), {}, 'crashed'],
    ['Failed/OOMKilled', statusOf('Failed', 'OOMKilled'), {}, 'crashed'],
    ['Failed/MaxTurns', statusOf('Failed', 'MaxTurns'), {}, 'failed'],
    ['Failed/ApiError', statusOf('Failed', 'ApiError'), {}, 'failed'],
    ['Failed/ContainerLost', statusOf('Failed', 'ContainerLost'), {}, 'failed'],
    ['Cancelled', statusOf('Cancelled', 'Cancelled'), {}, 'cancelled'],
    ['Running with spec.cancel (final once written)', statusOf('Running', 'Running'), { cancel: true }, 'cancelled'],
    ['Succeeded although cancel came too late', statusOf('Succeeded', 'Succeeded'), { cancel: true }, 'completed'],
  ])('%s → %s', (_case, status, spec, expected) => {
    expect(jobStatusOf(runWith(status, { prompt: 'x', ...spec }))).toBe(expected);
  });
});

describe('crashInfoOf', () => {
  it('keeps the last 2000 characters of the partial output, marked with "..."', () => {
    const info = crashInfoOf(runWith(statusOf('Failed', 'Crashed', { crash: { exitCode: 137, signal: 'SIGKILL' }, result: `${'a'.repeat(100)}${'b'.repeat(2000)}` })));
    expect(info).toEqual({ exit_code: 137, signal: 'SIGKILL', reason: 'Process killed by SIGKILL', partial_output: `...${'b'.repeat(2000)}` });
  });

  it('falls back to the stderr tail and the status exit code', () => {
    const info = crashInfoOf(runWith(statusOf('Failed', 'Crashed', { exitCode: 200, crash: { stderrTail: 'fatal: oops' } })));
    expect(info).toEqual({ exit_code: 200, reason: 'Process exited with code 200', partial_output: 'fatal: oops' });
  });

  it('is undefined for runs that did not crash', () => {
    expect(crashInfoOf(runWith(statusOf('Failed', 'MaxTurns')))).toBeUndefined();
    expect(crashInfoOf(runWith(statusOf('Succeeded', 'Succeeded')))).toBeUndefined();
  });
});

describe('failureOf', () => {
  it.each([
    ['VolumeNotAllowed', 400, 'volume validation failed: m'],
    ['InvalidWorkdir', 400, 'workdir validation failed: m'],
    ['ImageNotAllowed', 400, 'image validation failed: m'],
    ['ImageNotFound', 400, 'image validation failed: m'],
    ['InvalidSpec', 400, 'Invalid request: m'],
    ['ClaudeError', 500, 'execution failed: ClaudeError: m'],
    ['NonZeroExit', 500, 'execution failed: NonZeroExit: m'],
  ])('%s → %d "%s"', (reason, httpStatus, error) => {
    expect(failureOf(runWith(statusOf('Failed', reason, { message: 'm' })))).toEqual({ reason, httpStatus, error });
  });

  it('does not repeat a prefix the controller already wrote', () => {
    const run = runWith(statusOf('Failed', 'VolumeNotAllowed', { message: 'volume validation failed: /etc is not allowed' }));
    expect(failureOf(run).error).toBe('volume validation failed: /etc is not allowed');
  });
});

describe('usageOf', () => {
  it('flattens the CLI usage, sums total_tokens and rounds the cost to 6 decimals', () => {
    expect(usageOf(runWith(statusOf('Succeeded', 'Succeeded', { usage: { inputTokens: 1, outputTokens: 2, costUSD: 0.1234564999 } })))).toEqual({
      model: '',
      input_tokens: 1,
      output_tokens: 2,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      total_tokens: 3,
      estimated_cost_usd: 0.123456,
    });
    expect(usageOf(runWith(statusOf('Succeeded', 'Succeeded')))).toBeUndefined();
  });
});

describe('times', () => {
  it('formats RFC 3339 in whole seconds, UTC', () => {
    expect(toRfc3339Seconds('2026-01-01T10:00:00.123456Z')).toBe('2026-01-01T10:00:00Z');
    expect(toRfc3339Seconds('2026-01-01T12:00:00+02:00')).toBe('2026-01-01T10:00:00Z');
    expect(toRfc3339Seconds('not a time')).toBeUndefined();
  });

  it('takes updated_at from the latest thing that changed', () => {
    const run = runWith(statusOf('Succeeded', 'Succeeded', { startTime: '2026-01-01T10:00:01Z', completionTime: '2026-01-01T10:09:59.900Z' }));
    expect(updatedAtOf(run)).toBe('2026-01-01T10:09:59Z');
    expect(updatedAtOf(runWith(undefined))).toBe('2026-01-01T10:00:00Z');
  });
});

describe('outputOf', () => {
  const log = (lines: string[], fail = false): LogReader => ({
    async *lines() {
      if (fail) throw new Error('log gone');
      yield* lines;
    },
  });
  const signal = new AbortController().signal;
  const lines = ['{"type":"system","subtype":"init"}', 'not json', '{"type":"result","subtype":"success","result":"  full text  "}'];

  it('answers text from status without reading the log', async () => {
    expect(await outputOf(runWith(statusOf('Succeeded', 'Succeeded', { result: ' short \n' })), log([], true), signal)).toBe('short');
  });

  it('reads the full text from the result event when status truncated it', async () => {
    expect(await outputOf(runWith(statusOf('Succeeded', 'Succeeded', { result: 'cut', resultTruncated: true })), log(lines), signal)).toBe('full text');
  });

  it('renders json as the result event and stream-json as every line', async () => {
    const json = runWith(statusOf('Succeeded', 'Succeeded', { result: 'x' }), { prompt: 'x', claude: { outputFormat: 'json' } });
    expect(await outputOf(json, log(lines), signal)).toBe(lines[2]);
    const stream = runWith(statusOf('Succeeded', 'Succeeded', { result: 'x' }), { prompt: 'x', claude: { outputFormat: 'stream-json' } });
    expect(await outputOf(stream, log(lines), signal)).toBe(lines.join('\n'));
  });

  it('falls back to status when the log is unreadable or has no result event', async () => {
    const json = runWith(statusOf('Failed', 'Crashed', { result: 'partial' }), { prompt: 'x', claude: { outputFormat: 'json' } });
    expect(await outputOf(json, log([], true), signal)).toBe('partial');
    expect(await outputOf(json, log(['{"type":"assistant"}']), signal)).toBe('partial');
  });
});
