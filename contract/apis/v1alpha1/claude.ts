// ClaudeOptions: every option of Stromboli's ClaudeOptions (reference §2) in camelCase, as the
// `spec.claude` block of an AgentRun. The descriptions become the CRD's documentation. Session
// fields (session_id, resume, continue, fork_session) live in `spec.session`, not here.
// Rule kept from Stromboli: an empty value ("" / [] / false / absent) adds nothing to argv.
import { z } from 'zod';

/**
 * Longest free-text value (system prompts, JSON strings). At most 3 UTF-8 bytes per UTF-16 unit
 * keeps one argv element under Linux's 128 KiB per-argument limit (MAX_ARG_STRLEN).
 */
export const MAX_ARG_CHARS = 40_000;
const NAME_MAX = 256;
const PATH_MAX = 4096;

// Free text: anything but NUL (exec cannot carry NUL).
const TEXT = /^[^\x00]+$/;
// An identifier-like value that must not start with "-": the CLI's variadic and optional-value
// options would read such a value as a new flag (argv injection).
const WORD = /^[^\x00-][^\x00]*$/;
const NOT_FLAG = 'must not contain NUL or start with "-"';

// Go's zero values ("" and friends) mean "not set" in Stromboli; the facade's wire format
// (api-server/src/stromboli/claude-wire.ts) drops empty strings, so the schema requires non-empty strings.
const text = (max: number) => z.string().min(1).max(max).regex(TEXT, 'must not contain NUL');
const word = (max: number) => z.string().min(1).max(max).regex(WORD, NOT_FLAG);
const items = (maxItems: number, maxChars: number) => z.array(word(maxChars)).max(maxItems);

/** True for a value that survives a JSON round trip unchanged in kind (no functions, undefined, NaN…). */
function isJsonValue(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isJsonValue);
  if (typeof value === 'object') return Object.values(value).every(isJsonValue);
  return false;
}

function isJsonText(value: string): boolean {
  try {
    JSON.parse(value);
    return true;
  } catch {
    return false;
  }
}

/** The `spec.claude` block: Claude CLI options, mapped to flags by claude/args.ts in Stromboli's order. */
export const ClaudeOptionsSchema = z.strictObject({
  model: word(NAME_MAX).optional().describe('Model alias (sonnet, opus, haiku) or full model name: --model. Default: the CLI default.'),
  fallbackModel: word(NAME_MAX).optional().describe('Model(s) to use when the main one is overloaded: --fallback-model. Default: none.'),
  effort: z.enum(['low', 'medium', 'high', 'xhigh', 'max']).optional().describe('Reasoning effort: --effort. Default: the CLI default.'),
  systemPrompt: text(MAX_ARG_CHARS).optional().describe('Replaces the default system prompt: --system-prompt. Default: the CLI system prompt.'),
  appendSystemPrompt: text(MAX_ARG_CHARS).optional().describe('Appended to the system prompt: --append-system-prompt. Default: nothing appended.'),
  tools: z
    .array(z.string().max(NAME_MAX).regex(/^([^\x00-][^\x00]*)?$/, NOT_FLAG))
    .max(64)
    .optional()
    .describe('Built-in tool set, one argument each ("" = no tools, "default" = all): --tools. Default: all built-in tools.'),
  allowedTools: items(128, NAME_MAX).optional().describe('Pre-approved tool rules, e.g. "Bash(git:*)"; comma-joined into one argument: --allowedTools. Default: none.'),
  disallowedTools: items(128, NAME_MAX).optional().describe('Denied tool rules; comma-joined into one argument: --disallowedTools. Default: none.'),
  permissionMode: z
    .enum(['default', 'manual', 'acceptEdits', 'plan', 'dontAsk', 'auto', 'bypassPermissions', 'delegate'])
    .optional()
    .describe(
      'Permission mode: --permission-mode. Default: the CLI default ("default"). "delegate" (Stromboli\'s agent-team mode) is passed on for images whose CLI knows it; the bundled agent image\'s CLI (2.1.x) refuses it and the run fails with its message.',
    ),
  dangerouslySkipPermissions: z.boolean().optional().describe('Bypass every permission check (sandboxed runs only): --dangerously-skip-permissions. Default: false.'),
  allowDangerouslySkipPermissions: z.boolean().optional().describe('Make bypass available without starting in it: --allow-dangerously-skip-permissions. Default: false.'),
  inputFormat: z.enum(['text', 'stream-json']).optional().describe('Input format: --input-format. Default: text.'),
  outputFormat: z
    .enum(['text', 'json', 'stream-json'])
    .optional()
    .describe('Output format: --output-format. The controller always runs with stream-json (it reads the result event), so this is recorded but replaced. Default: stream-json.'),
  includePartialMessages: z.boolean().optional().describe('Emit partial message chunks (stream-json only): --include-partial-messages. Default: false.'),
  replayUserMessages: z.boolean().optional().describe('Re-emit user messages on stdout: --replay-user-messages. Default: false.'),
  jsonSchema: text(MAX_ARG_CHARS)
    .refine(isJsonText, 'must be valid JSON')
    .optional()
    .describe('JSON Schema (as a JSON string) for structured output: --json-schema. Default: none.'),
  maxBudgetUsd: z.number().min(0).max(1_000_000).optional().describe('Spending limit in USD, sent with two decimals; an explicit 0 is sent: --max-budget-usd. Default: no limit.'),
  maxTurns: z.number().int().min(0).max(100_000).optional().describe('Maximum agentic turns; an explicit 0 is sent (the CLI treats it as no limit): --max-turns. Default: no limit.'),
  mcpConfigs: items(8, MAX_ARG_CHARS).optional().describe('MCP server config files or JSON strings, one argument each: --mcp-config. Default: none.'),
  strictMcpConfig: z.boolean().optional().describe('Use only the servers from mcpConfigs: --strict-mcp-config. Default: false.'),
  agent: word(NAME_MAX).optional().describe('Agent for the session: --agent. Default: none.'),
  agents: z
    .record(z.string().min(1).max(NAME_MAX), z.unknown())
    .refine((value) => isJsonValue(value), { message: 'must be plain JSON', abort: true })
    .refine((value) => JSON.stringify(value).length <= MAX_ARG_CHARS, `must serialize to at most ${MAX_ARG_CHARS} characters`)
    .optional()
    .meta({
      description: 'Custom agent definitions (a JSON object), sent as compact JSON: --agents. Default: none.',
      maxProperties: 64,
      'x-kubernetes-preserve-unknown-fields': true,
    }),
  addDirs: items(64, PATH_MAX).optional().describe('Extra directories the tools may access, one argument each: --add-dir. Default: none.'),
  pluginDirs: items(32, PATH_MAX).optional().describe('Plugin directories, one argument each: --plugin-dir. Default: none.'),
  files: items(64, PATH_MAX).optional().describe('File resources as "file_id:path", one argument each: --file. Default: none.'),
  settings: word(MAX_ARG_CHARS).optional().describe('Settings file path or JSON string: --settings. Default: none.'),
  settingSources: z
    .array(z.enum(['user', 'project', 'local']))
    .max(3)
    .refine((list) => new Set(list).size === list.length, 'must not repeat a source')
    .optional()
    .describe('Setting sources to load, comma-joined: --setting-sources. Default: the CLI default.'),
  betas: items(32, NAME_MAX).optional().describe('Beta headers for API requests, one argument each: --betas. Default: none.'),
  verbose: z.boolean().optional().describe('Verbose output: --verbose. Always on in the controller (stream-json needs it). Default: true.'),
  debug: word(NAME_MAX).optional().describe('Debug mode: "true" gives a bare --debug, any other value is a category filter (--debug api,hooks). Default: off.'),
  disableSlashCommands: z.boolean().optional().describe('Disable all slash commands and skills: --disable-slash-commands. Default: false.'),
  noPersistence: z.boolean().optional().describe('Do not save the session to disk (it cannot be resumed): --no-session-persistence. Default: false.'),
  promptCachingTtl: z
    .enum(['1h', '5m'])
    .optional()
    .describe('Prompt cache TTL, set through the environment: "1h" sets ENABLE_PROMPT_CACHING_1H=1, "5m" sets FORCE_PROMPT_CACHING_5M=1. Default: the CLI default.'),
  bedrockServiceTier: z
    .string()
    .max(64)
    .regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, ".", "_" or "-"')
    .optional()
    .describe('Bedrock service tier, set as ANTHROPIC_BEDROCK_SERVICE_TIER in the environment. Default: none.'),
  enablePowershellTool: z.boolean().optional().describe('Enable the PowerShell tool, set as CLAUDE_CODE_USE_POWERSHELL_TOOL=1 in the environment. Default: false.'),
});

/** Claude CLI options after validation. */
export type ClaudeOptions = z.infer<typeof ClaudeOptionsSchema>;
