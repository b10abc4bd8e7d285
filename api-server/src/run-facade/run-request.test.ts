import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../contract/errors.ts';
import { PROMPT_REQUIRED, STREAM_PROMPT_REQUIRED, parseRunRequest, parseStreamQuery, toRequestPath } from './run-request.ts';

const SESSION = '0b0f6c1e-8a55-4c1b-9d7e-2f3a4b5c6d7e';

describe('parseRunRequest', () => {
  it('always sets a session id: a new UUID v4 when none is given', () => {
    const a = parseRunRequest({ prompt: 'x' });
    const b = parseRunRequest({ prompt: 'x' });
    expect(a.sessionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a.sessionId).not.toBe(b.sessionId);
    expect(a.spec.session).toEqual({ id: a.sessionId });
  });

  it('maps continue and fork_session, drops false flags and Go zero values', () => {
    const parsed = parseRunRequest({ prompt: 'x', workdir: '', webhook_url: null, claude: { session_id: SESSION, continue: true, fork_session: false, model: '', verbose: null } });
    expect(parsed.spec).toEqual({ prompt: 'x', session: { id: SESSION, continue: true } });
    expect(parsed).not.toHaveProperty('webhookUrl');
  });

  it('keeps the webhook URL for the async route to check', () => {
    expect(parseRunRequest({ prompt: 'x', webhook_url: 'https://h.example/x' }).webhookUrl).toBe('https://h.example/x');
  });

  it('lists the fields it ignored, for the debug log', () => {
    expect(parseRunRequest({ prompt: 'x', zz: 1, claude: { nope: 1 }, podman: { lifecycle: { never: [] } } }).ignoredKeys).toEqual(['claude.nope', 'podman.lifecycle.never', 'zz']);
  });

  it('uses Gin\'s message for a missing prompt, and a ValidationError for everything', () => {
    expect(() => parseRunRequest({ prompt: '' })).toThrow(ValidationError);
    expect(() => parseRunRequest({})).toThrow(PROMPT_REQUIRED);
    expect(() => parseRunRequest(undefined)).toThrow('Invalid request: EOF');
  });
});

describe('parseStreamQuery', () => {
  it('reads prompt, workdir, session_id and resume, the first of repeated values', () => {
    const parsed = parseStreamQuery({ prompt: ['one', 'two'], workdir: '/w', session_id: SESSION, resume: '1' });
    expect(parsed.spec).toEqual({ prompt: 'one', workdir: '/w', session: { id: SESSION, resume: true } });
  });

  it('answers Stromboli\'s plain message for a missing prompt', () => {
    expect(() => parseStreamQuery({})).toThrow(STREAM_PROMPT_REQUIRED);
  });
});

describe('toRequestPath', () => {
  it.each([
    [['claude', 'maxTurns'], 'claude.max_turns'],
    [['claude', 'allowedTools', 0], 'claude.allowed_tools.0'],
    [['session', 'id'], 'claude.session_id'],
    [['session', 'fork'], 'claude.fork_session'],
    [['podman', 'secretsEnv', 'X'], 'podman.secrets_env.X'],
    [['podman', 'lifecycle', 'hooksTimeout'], 'podman.lifecycle.hooks_timeout'],
    [['prompt'], 'prompt'],
    [[], ''],
  ])('%j → %s', (path, expected) => {
    expect(toRequestPath(path)).toBe(expected);
  });
});
