// Stromboli's RunRequest (snake_case JSON, or the /run/stream query) → a validated AgentRun spec.
// Everything a request can get wrong is found here and answered 400 before any resource exists;
// Stromboli answers most of it 500 from its runner (docs/compatibility.md). Unknown fields are
// ignored, as Go's JSON decoder does.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AgentRunSpec, ClaudeOptions, PodmanOptions } from '../../../contract/apis/v1alpha1/index.ts';
import { AgentRunSpecSchema, ClaudeOptionsSchema, MAX_PROMPT_BYTES, PodmanOptionsSchema, SessionIdSchema } from '../../../contract/apis/v1alpha1/index.ts';
import { ValidationError } from '../../../contract/errors.ts';
import { isPlainObject } from '../../../contract/store/canonical-json.ts';
import { CLAUDE_OPTIONS_CAMEL_TO_SNAKE, claudeOptionsFromSnake } from '../stromboli/claude-wire.ts';
import { LIFECYCLE_CAMEL_TO_SNAKE, PODMAN_OPTIONS_CAMEL_TO_SNAKE, podmanOptionsFromSnake } from '../stromboli/podman-wire.ts';
import { compact } from '../../../contract/compact.ts';

/** Gin's binder text for a missing or empty prompt (checklist item 7), verbatim: clients match on it. */
export const PROMPT_REQUIRED = "Invalid request: Key: 'RunRequest.Prompt' Error:Field validation for 'Prompt' failed on the 'required' tag";

/** Stromboli's /run/stream answer for a missing prompt (checklist item 32). */
export const STREAM_PROMPT_REQUIRED = 'Missing required parameter: prompt';

/**
 * The body as documented (OpenAPI). Loose: unknown keys are ignored. The nested option objects
 * are checked by parseRunRequest after the snake_case → camelCase rename, so their errors name
 * the snake_case fields a Stromboli client sent.
 */
export const RunRequestSchema = z
  .looseObject({
    prompt: z.string().describe(`Required: the prompt given to claude -p (at most ${MAX_PROMPT_BYTES} bytes).`),
    workdir: z.string().nullish().describe('Working directory inside the container: absolute, [a-zA-Z0-9/_.-] only, no "..".'),
    webhook_url: z.string().nullish().describe('POST /run/async only: called once the job ends (signed when a signing secret is configured).'),
    claude: z.record(z.string(), z.unknown()).nullish().describe("Stromboli's ClaudeOptions in snake_case (session_id, resume, model, max_turns, …)."),
    podman: z.record(z.string(), z.unknown()).nullish().describe("Stromboli's PodmanOptions in snake_case (image, volumes, secrets_env, memory, cpus, timeout, lifecycle)."),
  })
  .describe('Request to run Claude Code in an isolated container.');

/** A request that passed every check the facade can make. */
export interface RunRequest {
  spec: AgentRunSpec;
  /** Always set: the client's session_id (lower-cased) or a new UUID v4. */
  sessionId: string;
  /** Only meaningful for /run/async; not yet checked against the target policy. */
  webhookUrl?: string;
  /** Top-level and option keys Stromboli would ignore too; for debug logs. */
  ignoredKeys: string[];
}

const TOP_LEVEL_KEYS = new Set(['prompt', 'workdir', 'webhook_url', 'claude', 'podman']);

function invalid(message: string): ValidationError {
  return new ValidationError(`Invalid request: ${message}`);
}

/** Go reads null and "" as "not set". */
function isUnset(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** Stromboli's workdir rules (reference §8), with its messages; empty means "not set". */
export function checkWorkdir(workdir: string): void {
  const fail = (why: string) => new ValidationError(`workdir validation failed: ${why}`);
  if (workdir.length > 4096) throw fail('workdir path too long (max 4096 characters)');
  if (!workdir.startsWith('/')) throw fail('workdir must be an absolute path starting with /');
  if (!/^[a-zA-Z0-9/_.-]+$/.test(workdir)) throw fail('workdir contains invalid characters (only alphanumeric, /, _, ., - allowed)');
  if (workdir.includes('..')) throw fail('workdir cannot contain path traversal (..) sequences');
}

function lookup(table: Readonly<Record<string, string>>, key: string | undefined): string | undefined {
  return key !== undefined && Object.hasOwn(table, key) ? table[key] : undefined;
}

const SESSION_TO_SNAKE: Readonly<Record<string, string>> = { id: 'session_id', resume: 'resume', continue: 'continue', fork: 'fork_session' };

/** A spec path (camelCase, AgentRun shape) in the names of the request the client sent. */
export function toRequestPath(path: readonly PropertyKey[]): string {
  const parts = path.map(String);
  const [head, second, third] = parts;
  if (head === 'claude' && second !== undefined) return ['claude', lookup(CLAUDE_OPTIONS_CAMEL_TO_SNAKE, second) ?? second, ...parts.slice(2)].join('.');
  if (head === 'session' && second !== undefined) return `claude.${lookup(SESSION_TO_SNAKE, second) ?? second}`;
  if (head === 'podman' && second !== undefined) {
    const top = lookup(PODMAN_OPTIONS_CAMEL_TO_SNAKE, second) ?? second;
    if (second === 'lifecycle' && third !== undefined) return ['podman', top, lookup(LIFECYCLE_CAMEL_TO_SNAKE, third) ?? third, ...parts.slice(3)].join('.');
    return ['podman', top, ...parts.slice(2)].join('.');
  }
  return parts.join('.');
}

function describeIssues(error: z.ZodError, prefix: readonly string[] = []): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => {
      const path = toRequestPath([...prefix, ...issue.path]);
      return path === '' ? issue.message : `${path}: ${issue.message}`;
    })
    .join('; ');
}

const SessionFieldsSchema = z.object({
  id: z.string().optional(),
  resume: z.boolean().optional(),
  continue: z.boolean().optional(),
  fork: z.boolean().optional(),
});

/** `claude.session_id` as a lowercase UUID (UUIDs are case-insensitive; our session directories are not). */
function sessionIdOf(given: string | undefined): string {
  if (given === undefined) return randomUUID();
  const id = given.toLowerCase();
  if (!SessionIdSchema.safeParse(id).success) throw invalid('claude.session_id: must be a UUID (the Claude CLI accepts nothing else)');
  return id;
}

interface RawRequest {
  prompt: unknown;
  workdir: unknown;
  webhookUrl: unknown;
  claude: unknown;
  podman: unknown;
  ignoredKeys: string[];
}

function buildRequest(raw: RawRequest): RunRequest {
  const ignoredKeys = [...raw.ignoredKeys];
  if (typeof raw.prompt !== 'string') throw invalid(`prompt: expected a string, got ${typeName(raw.prompt)}`);

  let workdir: string | undefined;
  if (!isUnset(raw.workdir)) {
    if (typeof raw.workdir !== 'string') throw invalid(`workdir: expected a string, got ${typeName(raw.workdir)}`);
    checkWorkdir(raw.workdir);
    workdir = raw.workdir;
  }

  let webhookUrl: string | undefined;
  if (!isUnset(raw.webhookUrl)) {
    if (typeof raw.webhookUrl !== 'string') throw invalid(`webhook_url: expected a string, got ${typeName(raw.webhookUrl)}`);
    webhookUrl = raw.webhookUrl;
  }

  let claude: ClaudeOptions | undefined;
  let session: z.infer<typeof SessionFieldsSchema> = {};
  if (raw.claude !== undefined && raw.claude !== null) {
    if (!isPlainObject(raw.claude)) throw invalid(`claude: expected an object, got ${typeName(raw.claude)}`);
    const converted = claudeOptionsFromSnake(raw.claude);
    ignoredKeys.push(...converted.ignoredKeys.map((k) => `claude.${k}`));
    const sessionFields = SessionFieldsSchema.safeParse(converted.session);
    if (!sessionFields.success) throw invalid(describeIssues(sessionFields.error, ['session']));
    session = sessionFields.data;
    const options = ClaudeOptionsSchema.safeParse(converted.options);
    if (!options.success) throw invalid(describeIssues(options.error, ['claude']));
    if (Object.keys(options.data).length > 0) claude = options.data;
  }

  let podman: PodmanOptions | undefined;
  if (raw.podman !== undefined && raw.podman !== null) {
    if (!isPlainObject(raw.podman)) throw invalid(`podman: expected an object, got ${typeName(raw.podman)}`);
    const converted = podmanOptionsFromSnake(raw.podman);
    ignoredKeys.push(...converted.ignoredKeys.map((k) => `podman.${k}`));
    if (isPlainObject(converted.options) && converted.options.environment !== undefined) {
      throw invalid('podman.environment: compose environments are not supported; use podman.image, volumes and lifecycle hooks');
    }
    const options = PodmanOptionsSchema.safeParse(converted.options);
    if (!options.success) throw invalid(describeIssues(options.error, ['podman']));
    if (Object.keys(options.data).length > 0) podman = options.data;
  }

  // Stromboli would pass --resume with a freshly generated id and fail at run time (500).
  if (session.resume === true && session.id === undefined) throw invalid('claude.resume: needs claude.session_id (the session to resume)');
  const sessionId = sessionIdOf(session.id);

  const spec = {
    prompt: raw.prompt,
    ...compact({ workdir }),
    ...compact({ claude }),
    ...compact({ podman }),
    session: {
      id: sessionId,
      ...(session.resume === true ? { resume: true } : {}),
      ...(session.continue === true ? { continue: true } : {}),
      ...(session.fork === true ? { fork: true } : {}),
    },
  };
  const parsed = AgentRunSpecSchema.safeParse(spec);
  if (!parsed.success) throw invalid(describeIssues(parsed.error));
  return { spec: parsed.data, sessionId, ...compact({ webhookUrl }), ignoredKeys: ignoredKeys.sort() };
}

/**
 * Why: POST /run and /run/async bodies, already JSON-parsed (undefined = no body). Throws
 * ValidationError with the message the client sees after the envelope's `error`.
 */
export function parseRunRequest(body: unknown): RunRequest {
  // No body at all (undefined, or null from some clients' empty requests): Go's decoder says EOF.
  if (body === undefined || body === null) throw invalid('EOF');
  if (!isPlainObject(body)) throw invalid(`expected a JSON object, got ${typeName(body)}`);
  if (isUnset(body.prompt)) throw new ValidationError(PROMPT_REQUIRED);
  return buildRequest({
    prompt: body.prompt,
    workdir: body.workdir,
    webhookUrl: body.webhook_url,
    claude: body.claude,
    podman: body.podman,
    ignoredKeys: Object.keys(body).filter((k) => !TOP_LEVEL_KEYS.has(k)),
  });
}

/** Query strings repeat keys as arrays; like Go's c.Query, the first value counts. */
function first(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Why: GET /run/stream takes prompt, workdir, session_id and (our addition) resume from the
 * query; the same checks as a body apply, with Stromboli's plain-text message for a missing prompt.
 */
export function parseStreamQuery(query: Record<string, unknown>): RunRequest {
  const prompt = first(query.prompt);
  if (isUnset(prompt)) throw new ValidationError(STREAM_PROMPT_REQUIRED);
  const sessionId = first(query.session_id);
  const resume = first(query.resume);
  if (resume !== undefined && !['true', 'false', '1', '0', ''].includes(String(resume))) throw invalid('resume: expected true or false');
  return buildRequest({
    prompt,
    workdir: first(query.workdir),
    webhookUrl: undefined,
    claude: {
      ...(isUnset(sessionId) ? {} : { session_id: sessionId }),
      ...(resume === 'true' || resume === '1' ? { resume: true } : {}),
    },
    podman: undefined,
    ignoredKeys: [],
  });
}
