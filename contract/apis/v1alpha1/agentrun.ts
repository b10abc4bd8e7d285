// The AgentRun resource (stromboli.dev/v1alpha1): the one object every way in produces
// (kubectl, a YAML file in the watched directory, the HTTP facade) and the reconciler makes true.
// The CRD in crds/agentrun.yaml is generated from these schemas (scripts/gen-crds.ts).
import { z } from 'zod';
import { ClaudeOptionsSchema } from './claude.ts';
import { PodmanOptionsSchema } from './podman.ts';
import { API_VERSION } from './group-version.ts';

export { API_VERSION, GROUP, VERSION } from './group-version.ts';
export const KIND = 'AgentRun';
export const PLURAL = 'agentruns';
export const SINGULAR = 'agentrun';
export const SHORT_NAMES = ['ar'] as const;
export const CATEGORIES = ['stromboli'] as const;

/**
 * The largest prompt we accept. It travels as one argv element, and Linux refuses a single
 * argument over 128 KiB (MAX_ARG_STRLEN); Stromboli has no limit and fails at run time instead.
 */
export const MAX_PROMPT_BYTES = 120 * 1024;

/** Session ids are UUIDs: the Claude CLI requires them, and they can never traverse a path. */
export const SessionIdSchema = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be a lowercase UUID')
  .describe('Claude session id (a lowercase UUID).');

export const SessionSpecSchema = z
  .strictObject({
    id: SessionIdSchema.optional().describe(
      'Session to use. New runs get a generated id when absent; with resume it names the session to continue.',
    ),
    resume: z.boolean().optional().describe('Continue the session named by id (claude --resume). Requires id.'),
    continue: z.boolean().optional().describe('Continue the most recent conversation in the working directory (claude --continue).'),
    fork: z.boolean().optional().describe('With resume: start a new session id branched from the resumed one (claude --fork-session).'),
  })
  .refine((s) => !s.resume || s.id !== undefined, { message: 'session.resume needs session.id', path: ['id'] })
  .describe('Claude session handling. The session directory is mounted as the container HOME, so resume works across runs.');

/** The prompt as a spec holds it inline (the CRD's maxLength stops a far larger one at the API server). */
export const PromptSchema = z
  .string()
  .min(1, 'prompt must not be empty')
  .max(MAX_PROMPT_BYTES, `prompt is larger than ${MAX_PROMPT_BYTES} bytes`)
  // Characters are counted by max() (and the CRD's maxLength); bytes here, once, for a prompt under that.
  .refine((p) => p.length > MAX_PROMPT_BYTES || Buffer.byteLength(p, 'utf8') <= MAX_PROMPT_BYTES, `prompt is larger than ${MAX_PROMPT_BYTES} bytes`);

/** DNS-1123 subdomain: the name of a ConfigMap or Secret. */
const ObjectNameSchema = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a lowercase RFC 1123 subdomain');
/** A ConfigMap or Secret data key. */
const DataKeySchema = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[-._a-zA-Z0-9]+$/, 'must consist of alphanumerics, "-", "_" or "."');

export const ConfigMapKeyRefSchema = z
  .strictObject({
    name: ObjectNameSchema.describe("Name of the ConfigMap, in the run's namespace."),
    key: DataKeySchema.describe('Key of the ConfigMap whose value is the prompt.'),
  })
  .describe("A key of a ConfigMap in the run's namespace.");

export const SecretKeyRefSchema = z
  .strictObject({
    name: ObjectNameSchema.describe("Name of the Secret, in the run's namespace."),
    key: DataKeySchema.describe('Key of the Secret whose value is the prompt.'),
  })
  .describe("A key of a Secret in the run's namespace.");

export const PromptFromSchema = z
  .strictObject({
    configMapKeyRef: ConfigMapKeyRefSchema.optional(),
    secretKeyRef: SecretKeyRefSchema.optional(),
  })
  .refine((p) => (p.configMapKeyRef === undefined) !== (p.secretKeyRef === undefined), {
    message: 'promptFrom needs exactly one of configMapKeyRef or secretKeyRef',
  })
  .describe(
    "Where the node agent reads the prompt when the run starts, instead of spec.prompt: exactly one of configMapKeyRef or secretKeyRef, in the run's namespace. For prompts too large for an object; Kubernetes mode only (the embedded mode refuses it). The prompt is never copied into status.",
  );
export type PromptFrom = z.infer<typeof PromptFromSchema>;

export const AgentRunSpecSchema = z
  .strictObject({
    prompt: PromptSchema.optional().describe(
      `The prompt given to claude -p, at most ${MAX_PROMPT_BYTES} bytes. Exactly one of prompt or promptFrom.`,
    ),
    promptFrom: PromptFromSchema.optional(),
    workdir: z
      .string()
      .max(4096)
      .regex(/^\//, 'workdir must be an absolute container path')
      .optional()
      .describe('Working directory inside the container (usually a mounted volume).'),
    claude: ClaudeOptionsSchema.optional().describe('Claude CLI options (Stromboli ClaudeOptions, camelCase).'),
    podman: PodmanOptionsSchema.optional().describe('Container options (Stromboli PodmanOptions, camelCase).'),
    session: SessionSpecSchema.optional(),
    activeDeadlineSeconds: z
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .optional()
      .describe('Wall-clock limit of one attempt, in seconds; enforced by podman --timeout even when the controller is down. Default: the podman.timeout, else 30 minutes.'),
    backoffLimit: z
      .int()
      .min(0)
      .max(10)
      .optional()
      .describe('How many times a crashed or failed attempt is retried. Default 0. Cancelled, deadline and invalid-spec failures are never retried.'),
    ttlSecondsAfterFinished: z
      .int()
      .min(0)
      .optional()
      .describe('Delete the run (and its logs) this long after it finished. Default: kept.'),
    suspend: z.boolean().optional().describe('Hold a run that has not started yet. A running run is not stopped by suspend.'),
    cancel: z.boolean().optional().describe('Stop the run and end it Cancelled. Final: a cancelled run never restarts.'),
    priority: z.int().min(-1000).max(1000).optional().describe('Higher starts first when runs queue for a slot. Default 0.'),
  })
  .refine((s) => (s.prompt === undefined) !== (s.promptFrom === undefined), {
    message: 'exactly one of prompt or promptFrom is required',
    path: ['prompt'],
  })
  // The spec a run executes always has a prompt string: '' stands for "read from promptFrom",
  // which the node agent resolves before it starts the container (agentrun/prompt-source.ts).
  .transform((s) => ({ ...s, prompt: s.prompt ?? '' }))
  .describe('Desired state of an AgentRun.');
/**
 * A parsed spec: what a run executes. `prompt` is '' when the spec names promptFrom instead; the
 * node agent reads that prompt at start and gives the runner a spec with the real text.
 */
export type AgentRunSpec = z.output<typeof AgentRunSpecSchema>;
/** A spec as written (prompt or promptFrom). */
export type AgentRunSpecInput = z.input<typeof AgentRunSpecSchema>;

export const Phases = ['Pending', 'Running', 'Succeeded', 'Failed', 'Cancelled'] as const;
export const PhaseSchema = z.enum(Phases);
export type Phase = z.infer<typeof PhaseSchema>;

export const ConditionSchema = z.object({
  type: z.string().min(1).max(316),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().min(1).max(1024),
  message: z.string().max(32768).optional(),
  lastTransitionTime: z.string(),
  observedGeneration: z.int().min(0).optional(),
});
export type Condition = z.infer<typeof ConditionSchema>;

export const UsageSchema = z
  .object({
    inputTokens: z.int().min(0).optional(),
    outputTokens: z.int().min(0).optional(),
    cacheCreationInputTokens: z.int().min(0).optional(),
    cacheReadInputTokens: z.int().min(0).optional(),
    costUSD: z.number().min(0).optional(),
    numTurns: z.int().min(0).optional(),
    durationMs: z.int().min(0).optional(),
    durationApiMs: z.int().min(0).optional(),
    model: z.string().optional(),
  })
  .describe('Usage and cost as reported by the CLI result event.');
export type Usage = z.infer<typeof UsageSchema>;

export const CrashInfoSchema = z
  .object({
    exitCode: z.int().optional(),
    signal: z.string().optional(),
    oomKilled: z.boolean().optional(),
    reason: z.string().optional(),
    /** The last lines of stderr, bounded and redacted. */
    stderrTail: z.string().max(4096).optional(),
  })
  .describe('What is known about an attempt that ended without a result.');
export type CrashInfo = z.infer<typeof CrashInfoSchema>;

/** The largest result text kept in status; the full transcript stays in the log. */
export const MAX_RESULT_CHARS = 16 * 1024;

export const AgentRunStatusSchema = z
  .object({
    observedGeneration: z.int().min(0).optional().describe('The metadata.generation this status was written for; older than generation means the controller has not seen the latest spec yet.'),
    phase: PhaseSchema.optional().describe('Pending, Running, Succeeded, Failed or Cancelled; for people and kubectl get (tools read the conditions).'),
    conditions: z
      .array(ConditionSchema)
      .optional()
      .describe('Succeeded (Unknown, then True or False, with the reason), Ready (True on success), Reconciling (True until finished) and Stalled (True once failed or cancelled).'),
    attempt: z.int().min(0).optional().describe('The current attempt, from 1; each retry (spec.backoffLimit) gets a new container.'),
    node: z.string().optional().describe('The node agent that runs (or ran) the run.'),
    containerName: z.string().optional().describe('The podman container of the current attempt.'),
    sessionId: z.string().optional().describe('The Claude session of the run; resume it with spec.session.'),
    startTime: z.string().optional().describe('When the container of the current attempt started.'),
    completionTime: z.string().optional().describe('When the run finished.'),
    duration: z.string().optional().describe('Wall time from startTime to completionTime, written when the run finishes (e.g. 4.2s, 3m7s, 1h2m).'),
    exitCode: z.int().optional().describe("The exit code of the last attempt's container."),
    crash: CrashInfoSchema.optional(),
    result: z.string().max(MAX_RESULT_CHARS).optional().describe(`The CLI's result text (at most ${MAX_RESULT_CHARS} characters; the whole transcript is in the log), or the assistant's text so far when it ended without one.`),
    resultTruncated: z.boolean().optional().describe('True when result was cut to its limit.'),
    structuredOutput: z.unknown().optional().describe('The structured output the CLI returned for claude.jsonSchema.'),
    usage: UsageSchema.optional(),
    message: z.string().max(1024).optional().describe('Why the run is in its phase, in one line (the message of the conditions).'),
    /** Where the stream-json log of the last attempt lives (a path under the state directory, or a node URL). */
    logRef: z.string().optional().describe("Where the last attempt's stream-json log lives: a path on the node, or the node agent's log URL."),
  })
  .describe('Observed state of an AgentRun, written only by the controller.');
export type AgentRunStatus = z.infer<typeof AgentRunStatusSchema>;

export const ObjectMetaSchema = z.object({
  name: z
    .string()
    .min(1)
    .max(253)
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'name must be a lowercase RFC 1123 subdomain'),
  namespace: z
    .string()
    .min(1)
    .max(63)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'namespace must be a lowercase RFC 1123 label')
    .optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

/** A whole AgentRun as a user writes it (metadata + spec); the store adds identity and status. */
export const AgentRunManifestSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  metadata: ObjectMetaSchema,
  spec: AgentRunSpecSchema,
});
export type AgentRunManifest = z.infer<typeof AgentRunManifestSchema>;

/** A readable, single-line summary of a zod failure: `spec.claude.maxTurns: expected int`. */
export function describeZodError(error: z.ZodError, prefix = ''): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter((p) => p !== '').join('.');
      return path === '' ? issue.message : `${path}: ${issue.message}`;
    })
    .join('; ');
}
