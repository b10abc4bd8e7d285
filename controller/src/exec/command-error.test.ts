import { describe, expect, it } from 'vitest';
import { AppError, isAppError } from '../../../contract/errors.ts';
import { CommandError, DETAILS_ARG_MAX_CHARS, STDERR_TAIL_BYTES, tailBytes } from './command-error.ts';
import type { ExecResult } from './executor.ts';

function result(overrides: Partial<ExecResult> = {}): ExecResult {
  return { exitCode: 125, stdout: '', stderr: '', signal: undefined, timedOut: false, aborted: false, ...overrides };
}

describe('CommandError', () => {
  it('is an AppError with code COMMAND_FAILED carrying the outcome of the command', () => {
    const error = new CommandError({ argv: ['podman', 'ps'], result: result({ exitCode: 125, stderr: 'boom' }) });
    expect(error).toBeInstanceOf(AppError);
    expect(isAppError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'COMMAND_FAILED', message: 'command failed', name: 'CommandError', exitCode: 125, signal: undefined, timedOut: false, aborted: false, stderrTail: 'boom' });
    expect(error.details).toEqual({ argv: ['podman', 'ps'], exitCode: 125, signal: undefined, timedOut: false, aborted: false });
  });

  it('keeps the message and cause it is given', () => {
    const cause = new Error('underlying');
    const error = new CommandError({ argv: ['sleep', '9'], result: result({ exitCode: undefined, signal: 'SIGTERM', timedOut: true }), message: 'sleep failed', cause });
    expect(error).toMatchObject({ message: 'sleep failed', cause, signal: 'SIGTERM', timedOut: true });
  });

  it('redacts the argv positions named in redact, in argv, details and stderr', () => {
    const error = new CommandError({
      argv: ['tool', '--token', 's3cr3t-value', 'visible'],
      redact: [2],
      result: result({ exitCode: 1, stderr: 'bad token s3cr3t-value given' }),
    });
    expect(error.argv).toEqual(['tool', '--token', '***', 'visible']);
    expect(error.details?.['argv']).toEqual(['tool', '--token', '***', 'visible']);
    expect(error.stderrTail).toBe('bad token *** given');
    expect(JSON.stringify({ ...error, message: error.message })).not.toContain('s3cr3t-value');
  });

  it('keeps only the last 2 KB of stderr', () => {
    const stderr = `${'x'.repeat(5000)}THE-END`;
    const error = new CommandError({ argv: ['x'], result: result({ stderr }) });
    expect(Buffer.byteLength(error.stderrTail)).toBe(STDERR_TAIL_BYTES);
    expect(error.stderrTail.endsWith('THE-END')).toBe(true);
  });

  it('bounds long arguments in details but keeps them whole on argv', () => {
    const prompt = 'p'.repeat(1000);
    const error = new CommandError({ argv: ['claude', prompt], result: result() });
    expect(error.argv[1]).toBe(prompt);
    const detailsArgv = error.details?.['argv'];
    expect(Array.isArray(detailsArgv) && typeof detailsArgv[1] === 'string' ? detailsArgv[1].length : 0).toBe(DETAILS_ARG_MAX_CHARS);
  });
});

describe('tailBytes', () => {
  it('returns short text unchanged', () => {
    expect(tailBytes('héllo', 100)).toBe('héllo');
  });

  it('never starts in the middle of a multi-byte character', () => {
    // 'é' is 2 bytes: a 3-byte tail of 'ééé' would start inside a character, so it drops to 1 character.
    expect(tailBytes('ééé', 3)).toBe('é');
    expect(tailBytes('ééé', 4)).toBe('éé');
  });
});
