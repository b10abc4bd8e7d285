// Reads what the Claude CLI printed (stream-json, one JSON event per line) into the facts the
// status needs: the init event's session and model, and the final `result` event. Unknown event
// types and lines that are not JSON are ignored, as the CLI reference asks of a robust reader.
import { z } from 'zod';

const InitEventSchema = z.looseObject({
  type: z.literal('system'),
  subtype: z.literal('init'),
  session_id: z.string().optional(),
  model: z.string().optional(),
});

const ResultEventSchema = z.looseObject({
  type: z.literal('result'),
  subtype: z.string(),
  is_error: z.boolean().optional(),
  result: z.string().optional(),
  session_id: z.string().optional(),
  total_cost_usd: z.number().optional(),
  num_turns: z.number().optional(),
  duration_ms: z.number().optional(),
  duration_api_ms: z.number().optional(),
  structured_output: z.unknown().optional(),
  errors: z.array(z.string()).optional(),
  terminal_reason: z.string().optional(),
  api_error_status: z.number().nullable().optional(),
  usage: z
    .looseObject({
      input_tokens: z.number().optional(),
      output_tokens: z.number().optional(),
      cache_creation_input_tokens: z.number().optional(),
      cache_read_input_tokens: z.number().optional(),
    })
    .optional(),
});

/** The CLI's final word on a run, in our names. */
export interface ClaudeResult {
  subtype: string;
  isError: boolean;
  result?: string;
  sessionId?: string;
  costUSD?: number;
  numTurns?: number;
  durationMs?: number;
  durationApiMs?: number;
  structuredOutput?: unknown;
  errors?: string[];
  terminalReason?: string;
  apiErrorStatus?: number;
  inputTokens?: number;
  outputTokens?: number;
  cacheCreationInputTokens?: number;
  cacheReadInputTokens?: number;
}

/** Everything a transcript tells about its attempt. */
export interface TranscriptSummary {
  sessionId?: string;
  model?: string;
  result?: ClaudeResult;
  /** Text of the assistant's messages so far: the partial output of a run that never finished. */
  assistantText: string;
  /** Lines that parsed as JSON events. */
  events: number;
}

const AssistantEventSchema = z.looseObject({
  type: z.literal('assistant'),
  message: z.looseObject({
    content: z.array(z.looseObject({ type: z.string(), text: z.string().optional() })).optional(),
  }),
});

/** Bound on assistantText, so a long transcript never bloats memory or status. */
const MAX_ASSISTANT_TEXT = 16 * 1024;

function int(n: number | undefined): number | undefined {
  return n === undefined || !Number.isFinite(n) ? undefined : Math.max(0, Math.round(n));
}

/** Folds one line into the summary; returns true when the line was a JSON event. */
export function foldLine(summary: TranscriptSummary, line: string): boolean {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return false;
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    return false;
  }
  summary.events += 1;
  const init = InitEventSchema.safeParse(value);
  if (init.success) {
    if (init.data.session_id !== undefined) summary.sessionId = init.data.session_id;
    if (init.data.model !== undefined) summary.model = init.data.model;
    return true;
  }
  const assistant = AssistantEventSchema.safeParse(value);
  if (assistant.success) {
    for (const block of assistant.data.message.content ?? []) {
      if (block.type === 'text' && block.text !== undefined && summary.assistantText.length < MAX_ASSISTANT_TEXT) {
        summary.assistantText = (summary.assistantText === '' ? block.text : `${summary.assistantText}\n${block.text}`).slice(0, MAX_ASSISTANT_TEXT);
      }
    }
    return true;
  }
  const parsed = ResultEventSchema.safeParse(value);
  if (!parsed.success) return true;
  const r = parsed.data;
  const result: ClaudeResult = { subtype: r.subtype, isError: r.is_error ?? r.subtype !== 'success' };
  const set = <K extends keyof ClaudeResult>(key: K, v: ClaudeResult[K] | undefined): void => {
    if (v !== undefined) result[key] = v;
  };
  set('result', r.result);
  set('sessionId', r.session_id);
  set('costUSD', r.total_cost_usd);
  set('numTurns', int(r.num_turns));
  set('durationMs', int(r.duration_ms));
  set('durationApiMs', int(r.duration_api_ms));
  set('structuredOutput', r.structured_output);
  set('errors', r.errors);
  set('terminalReason', r.terminal_reason);
  set('apiErrorStatus', r.api_error_status ?? undefined);
  set('inputTokens', int(r.usage?.input_tokens));
  set('outputTokens', int(r.usage?.output_tokens));
  set('cacheCreationInputTokens', int(r.usage?.cache_creation_input_tokens));
  set('cacheReadInputTokens', int(r.usage?.cache_read_input_tokens));
  summary.result = result;
  if (r.session_id !== undefined) summary.sessionId = r.session_id;
  return true;
}

/** Summarises a whole transcript (the text of a persisted log). */
export function summarizeTranscript(text: string): TranscriptSummary {
  const summary: TranscriptSummary = { events: 0, assistantText: '' };
  for (const line of text.split('\n')) foldLine(summary, line);
  return summary;
}
