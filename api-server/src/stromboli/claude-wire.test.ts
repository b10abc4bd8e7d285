import { describe, expect, it } from 'vitest';
import { ClaudeOptionsSchema } from '../../../contract/apis/v1alpha1/index.ts';
import { everyClaudeOption } from '../../../contract/apis/v1alpha1/claude-fixtures.ts';
import { CLAUDE_OPTIONS_CAMEL_TO_SNAKE, CLAUDE_OPTIONS_SNAKE_TO_CAMEL, CLAUDE_SESSION_SNAKE_TO_CAMEL, claudeOptionsFromSnake } from './claude-wire.ts';

describe('snake_case mapping', () => {
  it('maps every schema field both ways', () => {
    const schemaKeys = Object.keys(ClaudeOptionsSchema.shape).sort();
    expect(Object.keys(CLAUDE_OPTIONS_CAMEL_TO_SNAKE).sort()).toEqual(schemaKeys);
    expect([...CLAUDE_OPTIONS_SNAKE_TO_CAMEL.values()].sort()).toEqual(schemaKeys);
    for (const [snake, camel] of CLAUDE_OPTIONS_SNAKE_TO_CAMEL) expect(CLAUDE_OPTIONS_CAMEL_TO_SNAKE[camel]).toBe(snake);
  });

  it('spells every snake key as Stromboli does (lowercase words joined by "_")', () => {
    for (const snake of CLAUDE_OPTIONS_SNAKE_TO_CAMEL.keys()) expect(snake).toMatch(/^[a-z]+(_[a-z]+)*$/);
    expect(CLAUDE_OPTIONS_SNAKE_TO_CAMEL.get('allow_dangerously_skip_permissions')).toBe('allowDangerouslySkipPermissions');
    expect(CLAUDE_OPTIONS_SNAKE_TO_CAMEL.get('no_persistence')).toBe('noPersistence');
  });

  it('turns a Stromboli claude object into options that parse, with the session fields split out', () => {
    const snake: Record<string, unknown> = {};
    for (const [snakeKey, camelKey] of CLAUDE_OPTIONS_SNAKE_TO_CAMEL) snake[snakeKey] = everyClaudeOption[camelKey];
    const converted = claudeOptionsFromSnake({ ...snake, session_id: 'abc', resume: true, continue: false, fork_session: true });
    expect(ClaudeOptionsSchema.parse(converted.options)).toEqual(everyClaudeOption);
    expect(converted.session).toEqual({ id: 'abc', resume: true, continue: false, fork: true });
    expect(converted.ignoredKeys).toEqual([]);
  });

  it('drops null and empty-string values, which Go reads as "not set"', () => {
    const converted = claudeOptionsFromSnake({ model: '', debug: null, max_turns: 0, verbose: false, session_id: '' });
    expect(converted).toEqual({ options: { maxTurns: 0, verbose: false }, session: {}, ignoredKeys: [] });
  });

  it('lists unknown keys instead of passing them on, as Stromboli ignores unknown JSON fields', () => {
    const converted = claudeOptionsFromSnake({ model: 'opus', maxTurns: 3, __proto__x: 1, extra: null });
    expect(converted).toEqual({ options: { model: 'opus' }, session: {}, ignoredKeys: ['__proto__x', 'extra', 'maxTurns'] });
  });

  it('returns a non-object unchanged so the schema reports it', () => {
    for (const input of [null, 'x', 3, ['a']]) {
      const converted = claudeOptionsFromSnake(input);
      expect(converted.options).toBe(input);
      expect(ClaudeOptionsSchema.safeParse(converted.options).success).toBe(false);
    }
  });

  it('maps the four session keys to the AgentRun session block', () => {
    expect(Object.fromEntries(CLAUDE_SESSION_SNAKE_TO_CAMEL)).toEqual({ session_id: 'id', resume: 'resume', continue: 'continue', fork_session: 'fork' });
  });
});
