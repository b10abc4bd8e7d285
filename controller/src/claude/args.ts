// Pure ClaudeOptions → argv for the Claude CLI, in the order and formats of Stromboli's
// internal/claude builder (reference §2), so a run behaves as it would under Stromboli.
// One deliberate difference: the prompt goes last, after `--`, instead of right after `-p`
// (see buildClaudeArgs). The argv never contains the word `claude`; the runner adds it.
import type { ClaudeOptions } from '../../../contract/apis/v1alpha1/claude.ts';

/** What one CLI invocation needs: the prompt, the session flags and the validated options. */
export interface ClaudeArgsInput {
  /** The user prompt (any text, including text that starts with "-"). */
  prompt: string;
  /** Session id; without it no session flag is added (the runner always supplies one). Default: none. */
  sessionId?: string | undefined;
  /** With `sessionId`: `--resume <id>` instead of `--session-id <id>`. Ignored without `sessionId`. Default: false. */
  resume?: boolean | undefined;
  /** `--continue`: the most recent conversation in the working directory. Default: false. */
  continue?: boolean | undefined;
  /** `--fork-session`: resume into a new session id. Default: false. */
  fork?: boolean | undefined;
  /** With `fork` and `resume`: the fork's id (`--session-id` after `--fork-session`), chosen by the caller so it is known before the run. Default: the CLI picks one. */
  forkSessionId?: string | undefined;
  /** The `spec.claude` options, already validated by ClaudeOptionsSchema. */
  options: ClaudeOptions;
  /**
   * Force `--output-format stream-json` (replacing the user's outputFormat, same position) and
   * `--verbose` (the CLI refuses stream-json in print mode without it). The controller sets this:
   * it parses the stream-json events for the result, usage and cost. Default: false, the pure
   * Stromboli mapping.
   */
  streamJson?: boolean | undefined;
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Why: Stromboli passes the budget with Go's `%.2f`. JavaScript's toFixed rounds an exact tie
 * (x.125, x.375, x.625, x.875: the only binary values that are exact ties) up, Go rounds it to even.
 */
export function formatUsd(value: number): string {
  const eighths = value * 8; // exact: multiplying by a power of two
  if (Number.isInteger(eighths) && Math.abs(eighths % 2) === 1) {
    const cents = Math.floor(value * 100); // exact: value * 100 is an odd multiple of 12.5
    const even = cents % 2 === 0 ? cents : cents + 1;
    return (even / 100).toFixed(2);
  }
  return value.toFixed(2);
}

/**
 * Why: `--agents` takes the object as compact JSON. Keys are sorted at every level, as Go's
 * encoding/json does for maps, so the same spec always gives the same argv.
 */
export function toCompactJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(toCompactJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => byCodeUnit(a, b));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${toCompactJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function nonEmpty(list: readonly string[] | undefined): list is readonly string[] {
  return list !== undefined && list.length > 0;
}

/**
 * Why: the one place Claude CLI flags are spelled. Order (Stromboli's Build): -p, session
 * (--resume|--session-id), --continue, --fork-session, --no-session-persistence, --model,
 * --fallback-model, --effort, --system-prompt, --append-system-prompt, --tools, --allowedTools,
 * --disallowedTools, --permission-mode, --dangerously-skip-permissions,
 * --allow-dangerously-skip-permissions, --input-format, --output-format,
 * --include-partial-messages, --replay-user-messages, --json-schema, --max-budget-usd,
 * --max-turns, --mcp-config, --strict-mcp-config, --agent, --agents, --add-dir, --plugin-dir,
 * --file, --settings, --setting-sources, --betas, --verbose, --debug, --disable-slash-commands,
 * then `--` and the prompt.
 *
 * The prompt is last, after `--`, not right after `-p` as in Stromboli: `-p` takes no value, so
 * there the prompt is a positional argument, and a prompt starting with "-" (say
 * "--dangerously-skip-permissions", or a Markdown list "- fix …") was read as a flag. After `--`
 * it is always the prompt, and no variadic flag (--tools, --add-dir…) can swallow it.
 */
export function buildClaudeArgs(input: ClaudeArgsInput): string[] {
  const o = input.options;
  const args: string[] = ['-p'];
  const flag = (on: boolean | undefined, name: string): void => {
    if (on === true) args.push(name);
  };
  const value = (text: string | undefined, name: string): void => {
    if (text !== undefined && text !== '') args.push(name, text);
  };
  const each = (list: readonly string[] | undefined, name: string): void => {
    if (nonEmpty(list)) args.push(name, ...list);
  };
  const joined = (list: readonly string[] | undefined, name: string): void => {
    if (nonEmpty(list)) args.push(name, list.join(','));
  };

  if (input.sessionId !== undefined && input.sessionId !== '') {
    args.push(input.resume === true ? '--resume' : '--session-id', input.sessionId);
  }
  flag(input.continue, '--continue');
  flag(input.fork, '--fork-session');
  if (input.fork === true && input.resume === true && input.forkSessionId !== undefined && input.forkSessionId !== '') {
    args.push('--session-id', input.forkSessionId);
  }
  flag(o.noPersistence, '--no-session-persistence');
  value(o.model, '--model');
  value(o.fallbackModel, '--fallback-model');
  value(o.effort, '--effort');
  value(o.systemPrompt, '--system-prompt');
  value(o.appendSystemPrompt, '--append-system-prompt');
  each(o.tools, '--tools');
  joined(o.allowedTools, '--allowedTools');
  joined(o.disallowedTools, '--disallowedTools');
  value(o.permissionMode, '--permission-mode');
  flag(o.dangerouslySkipPermissions, '--dangerously-skip-permissions');
  flag(o.allowDangerouslySkipPermissions, '--allow-dangerously-skip-permissions');
  value(o.inputFormat, '--input-format');
  value(input.streamJson === true ? 'stream-json' : o.outputFormat, '--output-format');
  flag(o.includePartialMessages, '--include-partial-messages');
  flag(o.replayUserMessages, '--replay-user-messages');
  value(o.jsonSchema, '--json-schema');
  if (o.maxBudgetUsd !== undefined) args.push('--max-budget-usd', formatUsd(o.maxBudgetUsd));
  if (o.maxTurns !== undefined) args.push('--max-turns', String(o.maxTurns));
  each(o.mcpConfigs, '--mcp-config');
  flag(o.strictMcpConfig, '--strict-mcp-config');
  value(o.agent, '--agent');
  if (o.agents !== undefined) args.push('--agents', toCompactJson(o.agents));
  each(o.addDirs, '--add-dir');
  each(o.pluginDirs, '--plugin-dir');
  each(o.files, '--file');
  value(o.settings, '--settings');
  joined(o.settingSources, '--setting-sources');
  each(o.betas, '--betas');
  flag(input.streamJson === true || o.verbose, '--verbose');
  if (o.debug === 'true') args.push('--debug');
  else value(o.debug, '--debug');
  flag(o.disableSlashCommands, '--disable-slash-commands');
  args.push('--', input.prompt);
  return args;
}

/**
 * Why: three options are environment variables, not flags (Stromboli's EnvVars); the runner
 * passes them with podman -e. Returns only the variables that are set, keys in sorted order.
 */
export function claudeEnv(options: ClaudeOptions): Record<string, string> {
  const env: Record<string, string> = {};
  if (options.bedrockServiceTier !== undefined && options.bedrockServiceTier !== '') {
    env.ANTHROPIC_BEDROCK_SERVICE_TIER = options.bedrockServiceTier;
  }
  if (options.enablePowershellTool === true) env.CLAUDE_CODE_USE_POWERSHELL_TOOL = '1';
  if (options.promptCachingTtl === '1h') env.ENABLE_PROMPT_CACHING_1H = '1';
  if (options.promptCachingTtl === '5m') env.FORCE_PROMPT_CACHING_5M = '1';
  return env;
}
