import { describe, expect, it } from 'vitest';
import { ClaudeOptionsSchema } from '../../../contract/apis/v1alpha1/claude.ts';
import type { ClaudeOptions } from '../../../contract/apis/v1alpha1/claude.ts';
import { buildClaudeArgs, claudeEnv, formatUsd, toCompactJson } from './args.ts';

const SESSION = '5f0c8a9e-3b1d-4e2a-9c47-1d2e3f4a5b6c';

/** argv for the prompt "hi" and the given options, nothing else. */
function argsFor(options: ClaudeOptions): string[] {
  return buildClaudeArgs({ prompt: 'hi', options: ClaudeOptionsSchema.parse(options) });
}

describe('buildClaudeArgs', () => {
  it('gives -p, then -- and the prompt, for no options', () => {
    expect(buildClaudeArgs({ prompt: 'hello world', options: {} })).toEqual(['-p', '--', 'hello world']);
  });

  it.each<[string, ClaudeOptions, string[]]>([
    ['noPersistence', { noPersistence: true }, ['--no-session-persistence']],
    ['model', { model: 'sonnet' }, ['--model', 'sonnet']],
    ['fallbackModel', { fallbackModel: 'haiku' }, ['--fallback-model', 'haiku']],
    ['effort', { effort: 'xhigh' }, ['--effort', 'xhigh']],
    ['systemPrompt', { systemPrompt: 'You are a senior Go developer' }, ['--system-prompt', 'You are a senior Go developer']],
    ['appendSystemPrompt', { appendSystemPrompt: '- be brief' }, ['--append-system-prompt', '- be brief']],
    ['tools (separate arguments)', { tools: ['Bash', 'Read', 'Edit'] }, ['--tools', 'Bash', 'Read', 'Edit']],
    ['tools "" (no tools)', { tools: [''] }, ['--tools', '']],
    ['allowedTools (one comma-joined argument)', { allowedTools: ['Bash(git:*)', 'Read'] }, ['--allowedTools', 'Bash(git:*),Read']],
    ['disallowedTools (one comma-joined argument)', { disallowedTools: ['Write', 'WebFetch'] }, ['--disallowedTools', 'Write,WebFetch']],
    ['permissionMode', { permissionMode: 'bypassPermissions' }, ['--permission-mode', 'bypassPermissions']],
    ['dangerouslySkipPermissions', { dangerouslySkipPermissions: true }, ['--dangerously-skip-permissions']],
    ['allowDangerouslySkipPermissions', { allowDangerouslySkipPermissions: true }, ['--allow-dangerously-skip-permissions']],
    ['inputFormat', { inputFormat: 'stream-json' }, ['--input-format', 'stream-json']],
    ['outputFormat', { outputFormat: 'json' }, ['--output-format', 'json']],
    ['includePartialMessages', { includePartialMessages: true }, ['--include-partial-messages']],
    ['replayUserMessages', { replayUserMessages: true }, ['--replay-user-messages']],
    ['jsonSchema', { jsonSchema: '{"type":"object"}' }, ['--json-schema', '{"type":"object"}']],
    ['maxBudgetUsd (two decimals)', { maxBudgetUsd: 5.5 }, ['--max-budget-usd', '5.50']],
    ['maxBudgetUsd 0 (explicit zero is passed)', { maxBudgetUsd: 0 }, ['--max-budget-usd', '0.00']],
    ['maxTurns', { maxTurns: 25 }, ['--max-turns', '25']],
    ['maxTurns 0 (explicit zero is passed)', { maxTurns: 0 }, ['--max-turns', '0']],
    ['mcpConfigs (separate arguments)', { mcpConfigs: ['/a.json', '{"mcpServers":{}}'] }, ['--mcp-config', '/a.json', '{"mcpServers":{}}']],
    ['strictMcpConfig', { strictMcpConfig: true }, ['--strict-mcp-config']],
    ['agent', { agent: 'reviewer' }, ['--agent', 'reviewer']],
    ['agents (compact JSON, sorted keys)', { agents: { z: { prompt: 'p', description: 'd' }, a: { tools: ['Read'] } } }, ['--agents', '{"a":{"tools":["Read"]},"z":{"description":"d","prompt":"p"}}']],
    ['addDirs (separate arguments)', { addDirs: ['/data', '/extra'] }, ['--add-dir', '/data', '/extra']],
    ['pluginDirs (separate arguments)', { pluginDirs: ['/p1', '/p2'] }, ['--plugin-dir', '/p1', '/p2']],
    ['files (separate arguments)', { files: ['f1:/a.txt', 'f2:/b.txt'] }, ['--file', 'f1:/a.txt', 'f2:/b.txt']],
    ['settings', { settings: '{"permissions":{"allow":["Write"]}}' }, ['--settings', '{"permissions":{"allow":["Write"]}}']],
    ['settingSources (one comma-joined argument)', { settingSources: ['user', 'project'] }, ['--setting-sources', 'user,project']],
    ['betas (separate arguments)', { betas: ['b1', 'b2'] }, ['--betas', 'b1', 'b2']],
    ['verbose', { verbose: true }, ['--verbose']],
    ['debug "true" (bare flag)', { debug: 'true' }, ['--debug']],
    ['debug filter', { debug: 'api,hooks' }, ['--debug', 'api,hooks']],
    ['disableSlashCommands', { disableSlashCommands: true }, ['--disable-slash-commands']],
  ])('maps %s', (_name, options, flags) => {
    expect(argsFor(options)).toEqual(['-p', ...flags, '--', 'hi']);
  });

  it.each<[string, ClaudeOptions]>([
    ['false booleans', { verbose: false, dangerouslySkipPermissions: false, noPersistence: false, strictMcpConfig: false, disableSlashCommands: false }],
    ['empty lists', { tools: [], allowedTools: [], disallowedTools: [], mcpConfigs: [], addDirs: [], pluginDirs: [], files: [], settingSources: [], betas: [] }],
    ['environment-only options', { promptCachingTtl: '1h', bedrockServiceTier: 'flex', enablePowershellTool: true }],
  ])('adds nothing for %s', (_name, options) => {
    expect(argsFor(options)).toEqual(['-p', '--', 'hi']);
  });

  it('names a fork chosen by the caller: --resume <from> --fork-session --session-id <new>', () => {
    const fork = '0b7c6a1e-1111-4222-8333-944455556666';
    expect(buildClaudeArgs({ prompt: 'hi', sessionId: SESSION, resume: true, fork: true, forkSessionId: fork, options: {} })).toEqual([
      '-p', '--resume', SESSION, '--fork-session', '--session-id', fork, '--', 'hi',
    ]);
    // Without resume there is nothing to fork from: no second session flag.
    expect(buildClaudeArgs({ prompt: 'hi', sessionId: SESSION, fork: true, forkSessionId: fork, options: {} })).toEqual(['-p', '--session-id', SESSION, '--fork-session', '--', 'hi']);
  });

  it('adds an empty agents object as {} (an object, unlike an empty list, is set)', () => {
    expect(argsFor({ agents: {} })).toEqual(['-p', '--agents', '{}', '--', 'hi']);
  });

  describe('session flags', () => {
    it('uses --session-id for a new session', () => {
      expect(buildClaudeArgs({ prompt: 'hi', sessionId: SESSION, options: {} })).toEqual(['-p', '--session-id', SESSION, '--', 'hi']);
    });

    it('uses --resume when resuming', () => {
      expect(buildClaudeArgs({ prompt: 'hi', sessionId: SESSION, resume: true, options: {} })).toEqual(['-p', '--resume', SESSION, '--', 'hi']);
    });

    it('adds no session flag without a session id, even with resume (the caller must refuse that)', () => {
      expect(buildClaudeArgs({ prompt: 'hi', resume: true, sessionId: undefined, options: {} })).toEqual(['-p', '--', 'hi']);
    });

    it('puts --continue and --fork-session after the session flag and before --no-session-persistence', () => {
      expect(buildClaudeArgs({ prompt: 'hi', sessionId: SESSION, resume: true, continue: true, fork: true, options: { noPersistence: true } })).toEqual([
        '-p',
        '--resume',
        SESSION,
        '--continue',
        '--fork-session',
        '--no-session-persistence',
        '--',
        'hi',
      ]);
    });
  });

  describe('prompt', () => {
    it.each(['--dangerously-skip-permissions', '-v', '- fix the tests\n- then lint', '--', ''])('keeps the prompt %j after -- so it can never be read as a flag', (prompt) => {
      const args = buildClaudeArgs({ prompt, options: { addDirs: ['/data'] } });
      expect(args).toEqual(['-p', '--add-dir', '/data', '--', prompt]);
      expect(args.indexOf('--')).toBe(args.length - 2);
    });
  });

  describe('streamJson', () => {
    it('adds --output-format stream-json and --verbose in their Stromboli positions', () => {
      expect(buildClaudeArgs({ prompt: 'hi', options: { maxTurns: 3 }, streamJson: true })).toEqual([
        '-p',
        '--output-format',
        'stream-json',
        '--max-turns',
        '3',
        '--verbose',
        '--',
        'hi',
      ]);
    });

    it('replaces the user\'s output format and does not repeat --verbose', () => {
      expect(buildClaudeArgs({ prompt: 'hi', options: { outputFormat: 'json', verbose: true }, streamJson: true })).toEqual([
        '-p',
        '--output-format',
        'stream-json',
        '--verbose',
        '--',
        'hi',
      ]);
    });

    it('is off by default: the user\'s format stands and --verbose is not added', () => {
      expect(buildClaudeArgs({ prompt: 'hi', options: { outputFormat: 'text' } })).toEqual(['-p', '--output-format', 'text', '--', 'hi']);
    });
  });

  it('writes every option in Stromboli\'s order when all are set together', () => {
    const options = ClaudeOptionsSchema.parse({
      // deliberately not in argv order: the builder owns the order
      disableSlashCommands: true,
      debug: 'api',
      verbose: true,
      betas: ['b1', 'b2'],
      settingSources: ['user', 'project', 'local'],
      settings: '/s.json',
      files: ['f:/a'],
      pluginDirs: ['/p'],
      addDirs: ['/d1', '/d2'],
      agents: { r: { prompt: 'p' } },
      agent: 'r',
      strictMcpConfig: true,
      mcpConfigs: ['/m.json'],
      maxTurns: 7,
      maxBudgetUsd: 1.255,
      jsonSchema: '{}',
      replayUserMessages: true,
      includePartialMessages: true,
      outputFormat: 'stream-json',
      inputFormat: 'text',
      allowDangerouslySkipPermissions: true,
      dangerouslySkipPermissions: true,
      permissionMode: 'plan',
      disallowedTools: ['Write'],
      allowedTools: ['Read', 'Grep'],
      tools: ['Read', 'Grep'],
      appendSystemPrompt: 'append',
      systemPrompt: 'system',
      effort: 'low',
      fallbackModel: 'haiku',
      model: 'opus',
      noPersistence: true,
      promptCachingTtl: '5m',
      bedrockServiceTier: 'default',
      enablePowershellTool: true,
    });
    expect(buildClaudeArgs({ prompt: 'do it', sessionId: SESSION, continue: true, fork: true, options })).toEqual([
      '-p',
      '--session-id', SESSION,
      '--continue',
      '--fork-session',
      '--no-session-persistence',
      '--model', 'opus',
      '--fallback-model', 'haiku',
      '--effort', 'low',
      '--system-prompt', 'system',
      '--append-system-prompt', 'append',
      '--tools', 'Read', 'Grep',
      '--allowedTools', 'Read,Grep',
      '--disallowedTools', 'Write',
      '--permission-mode', 'plan',
      '--dangerously-skip-permissions',
      '--allow-dangerously-skip-permissions',
      '--input-format', 'text',
      '--output-format', 'stream-json',
      '--include-partial-messages',
      '--replay-user-messages',
      '--json-schema', '{}',
      '--max-budget-usd', '1.25',
      '--max-turns', '7',
      '--mcp-config', '/m.json',
      '--strict-mcp-config',
      '--agent', 'r',
      '--agents', '{"r":{"prompt":"p"}}',
      '--add-dir', '/d1', '/d2',
      '--plugin-dir', '/p',
      '--file', 'f:/a',
      '--settings', '/s.json',
      '--setting-sources', 'user,project,local',
      '--betas', 'b1', 'b2',
      '--verbose',
      '--debug', 'api',
      '--disable-slash-commands',
      '--',
      'do it',
    ]);
  });

  it('returns the same argv for the same input and does not change the input', () => {
    const options = ClaudeOptionsSchema.parse({ agents: { b: 1, a: 2 }, tools: ['X'] });
    const snapshot = structuredClone(options);
    const first = buildClaudeArgs({ prompt: 'p', options, streamJson: true });
    expect(buildClaudeArgs({ prompt: 'p', options, streamJson: true })).toEqual(first);
    expect(options).toEqual(snapshot);
  });
});

describe('formatUsd', () => {
  it.each([
    [5.5, '5.50'],
    [5, '5.00'],
    [0, '0.00'],
    [0.001, '0.00'],
    [1.255, '1.25'], // 1.25499999… in binary
    [2.675, '2.67'], // 2.67499999… in binary
    [0.125, '0.12'], // exact tie: Go rounds half to even
    [0.375, '0.38'],
    [0.625, '0.62'],
    [10.875, '10.88'],
    [0.126, '0.13'],
    [999_999.99, '999999.99'],
    [1_000_000, '1000000.00'],
  ])('formats %s as Go\'s %%.2f does: %s', (value, text) => {
    expect(formatUsd(value)).toBe(text);
  });
});

describe('toCompactJson', () => {
  it('sorts keys at every level by code unit, keeps array order and has no spaces', () => {
    expect(toCompactJson({ b: [3, { d: 1, c: null }], a: 'x y', B: true, '10': 1, '9': 2 })).toBe('{"10":1,"9":2,"B":true,"a":"x y","b":[3,{"c":null,"d":1}]}');
  });

  it('escapes strings as JSON', () => {
    expect(toCompactJson({ 'q"': 'line\nbreak "quoted"' })).toBe('{"q\\"":"line\\nbreak \\"quoted\\""}');
  });
});

describe('claudeEnv', () => {
  it.each<[string, ClaudeOptions, Record<string, string>]>([
    ['promptCachingTtl 1h', { promptCachingTtl: '1h' }, { ENABLE_PROMPT_CACHING_1H: '1' }],
    ['promptCachingTtl 5m', { promptCachingTtl: '5m' }, { FORCE_PROMPT_CACHING_5M: '1' }],
    ['bedrockServiceTier', { bedrockServiceTier: 'priority' }, { ANTHROPIC_BEDROCK_SERVICE_TIER: 'priority' }],
    ['enablePowershellTool', { enablePowershellTool: true }, { CLAUDE_CODE_USE_POWERSHELL_TOOL: '1' }],
    ['enablePowershellTool false', { enablePowershellTool: false }, {}],
    ['no options', {}, {}],
    ['flag options only', { model: 'opus', verbose: true }, {}],
  ])('maps %s', (_name, options, env) => {
    expect(claudeEnv(options)).toEqual(env);
  });

  it('returns every variable, keys sorted, when all are set', () => {
    const env = claudeEnv({ promptCachingTtl: '1h', bedrockServiceTier: 'flex', enablePowershellTool: true });
    expect(Object.entries(env)).toEqual([
      ['ANTHROPIC_BEDROCK_SERVICE_TIER', 'flex'],
      ['CLAUDE_CODE_USE_POWERSHELL_TOOL', '1'],
      ['ENABLE_PROMPT_CACHING_1H', '1'],
    ]);
  });
});
