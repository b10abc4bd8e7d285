import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { everyClaudeOption } from './claude-fixtures.ts';
import { ClaudeOptionsSchema, MAX_ARG_CHARS } from './claude.ts';

function issuePaths(input: unknown): string[] {
  const result = ClaudeOptionsSchema.safeParse(input);
  return result.success ? [] : [...new Set(result.error.issues.map((issue) => issue.path.join('.')))];
}

describe('ClaudeOptionsSchema', () => {
  it('accepts every option at once and returns it unchanged', () => {
    expect(ClaudeOptionsSchema.parse(everyClaudeOption)).toEqual(everyClaudeOption);
  });

  it('accepts an empty object (every option is optional)', () => {
    expect(ClaudeOptionsSchema.parse({})).toEqual({});
  });

  it('refuses unknown keys, including the snake_case spelling and session fields', () => {
    for (const key of ['max_turns', 'sessionId', 'resume', 'nonsense']) {
      const result = ClaudeOptionsSchema.safeParse({ [key]: 1 });
      expect(result.success, key).toBe(false);
      expect(result.error?.issues[0]?.code).toBe('unrecognized_keys');
    }
  });

  it('describes every field, so the CRD documents each option', () => {
    const json = z.toJSONSchema(ClaudeOptionsSchema);
    const properties = json.properties ?? {};
    expect(Object.keys(properties)).toHaveLength(35);
    for (const [key, property] of Object.entries(properties)) {
      const description = typeof property === 'object' ? property.description : undefined;
      expect(description, key).toMatch(/Default/);
    }
  });

  it('bounds every string and list, so the CRD has maxLength and maxItems for CEL cost estimates', () => {
    const json = JSON.stringify(z.toJSONSchema(ClaudeOptionsSchema));
    const properties = z.toJSONSchema(ClaudeOptionsSchema).properties ?? {};
    for (const [key, property] of Object.entries(properties)) {
      if (typeof property !== 'object') continue;
      if (property.type === 'string' && property.enum === undefined) expect(property.maxLength, key).toBeTypeOf('number');
      if (property.type === 'array') expect(property.maxItems, key).toBeTypeOf('number');
    }
    expect(json).toContain('"x-kubernetes-preserve-unknown-fields":true');
  });

  it.each([
    ['maxTurns', -1],
    ['maxTurns', 1.5],
    ['maxTurns', 100_001],
    ['maxBudgetUsd', -0.01],
    ['maxBudgetUsd', Number.POSITIVE_INFINITY],
    ['maxBudgetUsd', Number.NaN],
    ['maxBudgetUsd', 1_000_001],
    ['maxBudgetUsd', '5'],
    ['verbose', 'true'],
  ])('refuses %s = %s', (key, value) => {
    expect(issuePaths({ [key]: value })).toEqual([key]);
  });

  it('accepts an explicit zero budget and zero turns (they are passed to the CLI, as Stromboli does)', () => {
    expect(ClaudeOptionsSchema.parse({ maxBudgetUsd: 0, maxTurns: 0 })).toEqual({ maxBudgetUsd: 0, maxTurns: 0 });
  });

  it.each([
    ['model', '--dangerously-skip-permissions'],
    ['fallbackModel', '-x'],
    ['agent', '-a'],
    ['debug', '--verbose'],
    ['settings', '-s'],
    ['model', 'a\u0000b'],
    ['systemPrompt', 'a\u0000b'],
  ])('refuses %s = %j (a value the CLI would read as a flag, or NUL)', (key, value) => {
    expect(issuePaths({ [key]: value })).toEqual([key]);
  });

  it.each(['addDirs', 'pluginDirs', 'files', 'betas', 'mcpConfigs', 'allowedTools', 'disallowedTools'])(
    'refuses a %s item that starts with "-" or is empty',
    (key) => {
      expect(issuePaths({ [key]: ['/ok', '--dangerously-skip-permissions'] })).toEqual([`${key}.1`]);
      expect(issuePaths({ [key]: [''] })).toEqual([`${key}.0`]);
    },
  );

  it('accepts free text that starts with "-" where the CLI takes a required value', () => {
    expect(ClaudeOptionsSchema.parse({ systemPrompt: '- be terse', appendSystemPrompt: '-x' })).toEqual({ systemPrompt: '- be terse', appendSystemPrompt: '-x' });
  });

  it('accepts an empty tools entry (--tools "" disables every built-in tool)', () => {
    expect(ClaudeOptionsSchema.parse({ tools: [''] })).toEqual({ tools: [''] });
    expect(issuePaths({ tools: ['-x'] })).toEqual(['tools.0']);
  });

  it('refuses empty strings: "" means "not set" in Stromboli and the facade drops it', () => {
    for (const key of ['model', 'systemPrompt', 'jsonSchema', 'settings', 'debug', 'bedrockServiceTier']) {
      expect(issuePaths({ [key]: '' }), key).toEqual([key]);
    }
  });

  it('bounds string lengths', () => {
    expect(issuePaths({ model: 'm'.repeat(256) })).toEqual([]);
    expect(issuePaths({ model: 'm'.repeat(257) })).toEqual(['model']);
    expect(issuePaths({ systemPrompt: 's'.repeat(MAX_ARG_CHARS) })).toEqual([]);
    expect(issuePaths({ systemPrompt: 's'.repeat(MAX_ARG_CHARS + 1) })).toEqual(['systemPrompt']);
    expect(issuePaths({ addDirs: [`/${'d'.repeat(4095)}`] })).toEqual([]);
    expect(issuePaths({ addDirs: [`/${'d'.repeat(4096)}`] })).toEqual(['addDirs.0']);
  });

  it('bounds list lengths', () => {
    expect(issuePaths({ allowedTools: Array.from({ length: 128 }, (_, i) => `T${i}`) })).toEqual([]);
    expect(issuePaths({ allowedTools: Array.from({ length: 129 }, (_, i) => `T${i}`) })).toEqual(['allowedTools']);
    expect(issuePaths({ mcpConfigs: Array.from({ length: 9 }, () => '/m.json') })).toEqual(['mcpConfigs']);
  });

  it.each([
    ['effort', 'extreme'],
    ['permissionMode', 'yolo'],
    ['inputFormat', 'json'],
    ['outputFormat', 'xml'],
    ['promptCachingTtl', '10m'],
  ])('refuses %s = %s (not a value the CLI accepts)', (key, value) => {
    expect(issuePaths({ [key]: value })).toEqual([key]);
  });

  it.each([
    ['permissionMode', ['default', 'manual', 'acceptEdits', 'plan', 'dontAsk', 'auto', 'bypassPermissions', 'delegate']],
    ['effort', ['low', 'medium', 'high', 'xhigh', 'max']],
    ['outputFormat', ['text', 'json', 'stream-json']],
    ['inputFormat', ['text', 'stream-json']],
    ['promptCachingTtl', ['1h', '5m']],
  ])('accepts every %s the CLI accepts (and Stromboli\'s delegate mode)', (key, values) => {
    for (const value of values) expect(issuePaths({ [key]: value }), value).toEqual([]);
  });

  it('refuses a jsonSchema that is not JSON', () => {
    expect(issuePaths({ jsonSchema: '{type: object}' })).toEqual(['jsonSchema']);
  });

  it('refuses repeated setting sources and unknown ones', () => {
    expect(issuePaths({ settingSources: ['user', 'user'] })).toEqual(['settingSources']);
    expect(issuePaths({ settingSources: ['global'] })).toEqual(['settingSources.0']);
  });

  it('accepts nested JSON in agents and refuses values JSON cannot carry', () => {
    expect(issuePaths({ agents: { a: { tools: ['Read'], n: 1, ok: true, none: null } } })).toEqual([]);
    expect(issuePaths({ agents: { a: undefined } })).toEqual(['agents']);
    expect(issuePaths({ agents: { a: () => 1 } })).toEqual(['agents']);
    expect(issuePaths({ agents: { a: Number.NaN } })).toEqual(['agents']);
    expect(issuePaths({ agents: ['a'] })).toEqual(['agents']);
    expect(issuePaths({ agents: { a: 1n } })).toEqual(['agents']); // refused before JSON.stringify could throw
  });

  it('refuses agents whose JSON is longer than one argument may be', () => {
    expect(issuePaths({ agents: { a: 'x'.repeat(MAX_ARG_CHARS) } })).toEqual(['agents']);
  });

  it('refuses a bedrock service tier with characters outside a plain word', () => {
    expect(issuePaths({ bedrockServiceTier: 'flex' })).toEqual([]);
    expect(issuePaths({ bedrockServiceTier: 'a b' })).toEqual(['bedrockServiceTier']);
  });
});
