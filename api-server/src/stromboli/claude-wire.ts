// Stromboli's wire format of ClaudeOptions: the snake_case keys its API takes, tied to the
// camelCase schema of the contract by `satisfies` (a field added to one and not the other is a
// type error), and the conversion of a request's `claude` object. Only the facade speaks it.
import type { ClaudeOptions } from '../../../contract/apis/v1alpha1/index.ts';
import { isPlainObject } from '../../../contract/store/canonical-json.ts';

/** Our camelCase keys → Stromboli's snake_case keys; `satisfies` makes a missing or extra field a type error. */
export const CLAUDE_OPTIONS_CAMEL_TO_SNAKE = {
  model: 'model',
  fallbackModel: 'fallback_model',
  effort: 'effort',
  systemPrompt: 'system_prompt',
  appendSystemPrompt: 'append_system_prompt',
  tools: 'tools',
  allowedTools: 'allowed_tools',
  disallowedTools: 'disallowed_tools',
  permissionMode: 'permission_mode',
  dangerouslySkipPermissions: 'dangerously_skip_permissions',
  allowDangerouslySkipPermissions: 'allow_dangerously_skip_permissions',
  inputFormat: 'input_format',
  outputFormat: 'output_format',
  includePartialMessages: 'include_partial_messages',
  replayUserMessages: 'replay_user_messages',
  jsonSchema: 'json_schema',
  maxBudgetUsd: 'max_budget_usd',
  maxTurns: 'max_turns',
  mcpConfigs: 'mcp_configs',
  strictMcpConfig: 'strict_mcp_config',
  agent: 'agent',
  agents: 'agents',
  addDirs: 'add_dirs',
  pluginDirs: 'plugin_dirs',
  files: 'files',
  settings: 'settings',
  settingSources: 'setting_sources',
  betas: 'betas',
  verbose: 'verbose',
  debug: 'debug',
  disableSlashCommands: 'disable_slash_commands',
  noPersistence: 'no_persistence',
  promptCachingTtl: 'prompt_caching_ttl',
  bedrockServiceTier: 'bedrock_service_tier',
  enablePowershellTool: 'enable_powershell_tool',
} as const satisfies Record<keyof ClaudeOptions, string>;

/** Stromboli's snake_case key → our camelCase key; a Map so keys like "__proto__" cannot collide. */
export const CLAUDE_OPTIONS_SNAKE_TO_CAMEL: ReadonlyMap<string, keyof ClaudeOptions> = invert(CLAUDE_OPTIONS_CAMEL_TO_SNAKE);

/** Stromboli's session keys inside its ClaudeOptions → the keys of an AgentRun's `spec.session`. */
export const CLAUDE_SESSION_SNAKE_TO_CAMEL: ReadonlyMap<string, 'id' | 'resume' | 'continue' | 'fork'> = new Map([
  ['session_id', 'id'],
  ['resume', 'resume'],
  ['continue', 'continue'],
  ['fork_session', 'fork'],
]);

function invert<K extends string>(table: Readonly<Record<K, string>>): Map<string, K> {
  const out = new Map<string, K>();
  for (const key of Object.keys(table)) {
    if (isKeyOf(table, key)) out.set(table[key], key);
  }
  return out;
}

function isKeyOf<K extends string>(table: Readonly<Record<K, string>>, key: string): key is K {
  return Object.hasOwn(table, key);
}

/** Result of renaming a snake_case ClaudeOptions object; `options` still needs ClaudeOptionsSchema. */
export interface ClaudeSnakeConversion {
  /** camelCase options, unvalidated; the input itself when it was not a JSON object. */
  options: unknown;
  /** Session fields found in the object, renamed for `spec.session` (id, resume, continue, fork). */
  session: Record<string, unknown>;
  /** Keys Stromboli would ignore (it ignores unknown JSON fields); sorted. */
  ignoredKeys: string[];
}

/**
 * Why: the facade receives Stromboli's snake_case `claude` object. Renames known keys, splits the
 * session keys out, drops `null` and `""` (Go reads both as "not set") and unknown keys (Stromboli
 * ignores those; our schema is strict). Values are not validated here.
 */
export function claudeOptionsFromSnake(input: unknown): ClaudeSnakeConversion {
  if (!isPlainObject(input)) return { options: input, session: {}, ignoredKeys: [] };
  const options: Record<string, unknown> = {};
  const session: Record<string, unknown> = {};
  const ignoredKeys: string[] = [];
  for (const [key, value] of Object.entries(input)) {
    const optionKey = CLAUDE_OPTIONS_SNAKE_TO_CAMEL.get(key);
    const sessionKey = CLAUDE_SESSION_SNAKE_TO_CAMEL.get(key);
    if (optionKey === undefined && sessionKey === undefined) ignoredKeys.push(key);
    else if (value === null || value === '') continue;
    else if (optionKey !== undefined) options[optionKey] = value;
    else if (sessionKey !== undefined) session[sessionKey] = value;
  }
  return { options, session, ignoredKeys: ignoredKeys.sort() };
}
