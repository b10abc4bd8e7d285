import { afterEach, describe, expect, it } from 'vitest';
import { getCondition } from '../../../contract/apis/v1alpha1/index.ts';
import { clearSecretValues, registerSecretValue } from '../../../contract/redact.ts';
import { summarizeTranscript } from '../runner/stream-json.ts';
import { attemptFacts, nextStatus } from './status.ts';

afterEach(() => clearSecretValues());

const ctx = { generation: 3, node: 'local', now: '2026-11-29T12:00:00.000Z' };

describe('nextStatus', () => {
  it('sets phase, message, node and observedGeneration, removes fields set to undefined, and sets completionTime once', () => {
    const first = nextStatus({ containerName: 'c', attempt: 1 }, { phase: 'Failed', reason: 'Crashed', message: 'boom', completed: true, containerName: undefined }, ctx);
    expect(first).toMatchObject({ phase: 'Failed', message: 'boom', node: 'local', observedGeneration: 3, attempt: 1, completionTime: ctx.now });
    expect(first).not.toHaveProperty('containerName');
    expect(getCondition(first, 'Stalled')).toMatchObject({ status: 'True', reason: 'Crashed' });
    const later = nextStatus(first, { phase: 'Failed', reason: 'Crashed', message: 'boom', completed: true }, { ...ctx, now: '2026-11-29T13:00:00.000Z' });
    expect(later.completionTime).toBe(ctx.now);
    expect(getCondition(later, 'Stalled')?.lastTransitionTime).toBe(ctx.now);
  });

  it('scrubs registered secret values from the message and bounds it to one line', () => {
    registerSecretValue('sk-ant-secret-value-123');
    const status = nextStatus(undefined, { phase: 'Failed', reason: 'ApiError', message: `bad key sk-ant-secret-value-123\n${'x'.repeat(5000)}` }, ctx);
    expect(status.message).not.toContain('sk-ant-secret-value-123');
    expect(status.message).toMatch(/^bad key \*\*\* x+…$/);
    expect(status.message?.length).toBe(1024);
  });
});

describe('attemptFacts', () => {
  it('keeps the partial assistant text and crash info of an attempt without a result', () => {
    const record = {
      summary: summarizeTranscript(JSON.stringify({ type: 'assistant', message: { content: [{ type: 'text', text: 'half done' }] } })),
      stderrTail: 'Segmentation fault\n',
      logPath: '/l',
    };
    expect(attemptFacts({ name: 'c', running: false, finished: true, exitCode: 139 }, record)).toEqual({
      exitCode: 139,
      result: 'half done',
      crash: { exitCode: 139, signal: 'SIGSEGV', stderrTail: 'Segmentation fault\n' },
    });
  });
});

describe('formatDuration', () => {
  it('prints wall time as kubectl prints durations', async () => {
    const { formatDuration } = await import('./status.ts');
    expect([0, 4_250, 9_999, 42_000, 187_000, 3_720_000, 2 * 86_400_000 + 3 * 3_600_000].map(formatDuration)).toEqual(['0.0s', '4.2s', '9.9s', '42s', '3m7s', '1h2m', '2d3h']);
  });

  it('is set with completionTime from startTime, and not for a run that never started', () => {
    const done = nextStatus({ startTime: '2026-11-29T11:58:00.000Z' }, { phase: 'Succeeded', reason: 'Succeeded', message: 'ok', completed: true }, ctx);
    expect(done.duration).toBe('2m0s');
    const refused = nextStatus(undefined, { phase: 'Failed', reason: 'InvalidSpec', message: 'bad', completed: true }, ctx);
    expect(refused).not.toHaveProperty('duration');
  });
});
