// The JSON shapes of Stromboli's run family (RunResponse, AsyncRunResponse, JobResponse, …), in
// Stromboli's snake_case. Route schemas and the OpenAPI document come from these.
import { z } from 'zod';
import type { ErrorEnvelope } from '../plugins/error-handler.ts';

export const CrashInfoSchema = z
  .object({
    exit_code: z.int().optional().describe("The container's exit status (128 + signal number when a signal ended it)."),
    signal: z.string().optional().describe('Signal that ended the process, e.g. SIGKILL or SIGSEGV.'),
    reason: z.string().optional().describe('Human-readable crash reason.'),
    partial_output: z.string().optional().describe('The last 2000 characters of output before the crash.'),
    task_completed: z.boolean().optional(),
  })
  .describe('What is known about a run that ended without a result.');
export type CrashInfo = z.infer<typeof CrashInfoSchema>;

export const UsageSchema = z
  .object({
    model: z.string(),
    input_tokens: z.int(),
    output_tokens: z.int(),
    cache_creation_input_tokens: z.int(),
    cache_read_input_tokens: z.int(),
    total_tokens: z.int().describe('Sum of the four token counts.'),
    estimated_cost_usd: z.number().describe("The CLI's own cost figure for this run, rounded to 6 decimals."),
  })
  .describe('Token usage and cost of this run, as reported by the Claude CLI.');
export type Usage = z.infer<typeof UsageSchema>;

export const RunResponseSchema = z
  .object({
    id: z.string().describe('run-<16 hex>; "" on errors found before a run existed.'),
    status: z.enum(['completed', 'crashed', 'error']),
    output: z.string().optional(),
    structured_output: z.unknown().optional(),
    error: z.string().optional(),
    session_id: z.string().optional(),
    usage: UsageSchema.optional(),
    crash_info: CrashInfoSchema.optional(),
  })
  .describe("Response of POST /run; with status 'error' also the error body of the whole run family.");
export type RunResponse = z.infer<typeof RunResponseSchema>;

export const AsyncRunResponseSchema = z.object({ job_id: z.string(), session_id: z.string() }).describe('Response of POST /run/async.');

export const JobStatusSchema = z.enum(['pending', 'running', 'completed', 'failed', 'crashed', 'cancelled']);
export type JobStatus = z.infer<typeof JobStatusSchema>;

export const JobResponseSchema = z
  .object({
    id: z.string(),
    status: JobStatusSchema,
    output: z.string().optional(),
    structured_output: z.unknown().optional(),
    error: z.string().optional(),
    session_id: z.string().optional(),
    crash_info: CrashInfoSchema.optional(),
    usage: UsageSchema.optional().describe('Not in Stromboli (which sends usage only to webhooks).'),
    created_at: z.string().describe('RFC 3339, whole seconds, UTC.'),
    updated_at: z.string().describe('RFC 3339, whole seconds, UTC.'),
  })
  .describe('An API-created run, as Stromboli shows a job.');
export type JobResponse = z.infer<typeof JobResponseSchema>;

export const JobListSchema = z.object({ jobs: z.array(JobResponseSchema) });

export const JobCancelSchema = z.object({ cancelled: z.boolean(), job_id: z.string() });

export const JobIdParamsSchema = z.object({ id: z.string().describe('job-<16 hex> or run-<16 hex>') });

/** The run family's error body: Stromboli's RunResponse with an empty id (reference §1.13). */
export const runFamilyEnvelope: ErrorEnvelope = ({ message }) => ({ id: '', status: 'error', error: message });

/** Webhook body: Stromboli's fields plus structured_output and crash_info. */
export interface WebhookPayload {
  job_id: string;
  status: JobStatus;
  output?: string;
  error?: string;
  session_id?: string;
  usage?: Usage;
  structured_output?: unknown;
  crash_info?: CrashInfo;
}
