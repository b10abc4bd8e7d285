// What the fake agent does in the API's unit tests, chosen by a marker in the prompt: the
// FakeAgentRunner plays the container and the real reconciler decides what it means. No marker:
// success with `echo: <prompt>`. "[hold]" keeps running until the test finishes it; "[crash]",
// "[deadline]", "[oom]", "[fail]" (max turns) and "[volume]" (a refused mount) end as named.
import { TerminalError } from '../../../contract/errors.ts';
import type { FakeEnding, FakeScript } from '../../../controller/src/runner/fake-runner.ts';

/** The model the fake CLI reports in its init event. */
export const FAKE_MODEL = 'claude-fake-1';

/** The token counts and cost of every scripted result event. */
const USAGE = { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 2, cache_read_input_tokens: 3 };
const COST_USD = 0.0012345678;

function initLine(sessionId: string): string {
  return JSON.stringify({ type: 'system', subtype: 'init', session_id: sessionId, model: FAKE_MODEL });
}

function assistantLine(text: string): string {
  return JSON.stringify({ type: 'assistant', message: { content: [{ type: 'text', text }] } });
}

function resultLine(fields: Record<string, unknown>): string {
  return JSON.stringify({ type: 'result', total_cost_usd: COST_USD, num_turns: 1, usage: USAGE, ...fields });
}

/** A successful end: the answer, then the CLI's result event (with structured output when given). */
export function succeeded(text: string, options: { structuredOutput?: unknown } = {}): FakeEnding {
  const structured = options.structuredOutput === undefined ? {} : { structured_output: options.structuredOutput };
  return { exitCode: 0, stdout: [assistantLine(text), resultLine({ subtype: 'success', is_error: false, result: text, ...structured })] };
}

/** The FakeScript of the API's unit tests (see the file comment). */
export const agentScript: FakeScript = (request) => {
  const prompt = request.spec.prompt;
  const init = initLine(request.sessionId);
  if (prompt.includes('[hold]')) return { running: true, stdout: [init] };
  if (prompt.includes('[crash]')) return { exitCode: 139, stdout: [init, assistantLine('partial answer')] };
  // Killed at its deadline (podman's --timeout backstop): it ran for exactly as long as it may.
  if (prompt.includes('[deadline]')) return { exitCode: 143, stdout: [init], runtimeMs: request.deadlineSeconds * 1000 };
  if (prompt.includes('[oom]')) return { exitCode: 137, oomKilled: true, stdout: [init] };
  if (prompt.includes('[fail]')) return { exitCode: 1, stdout: [init, resultLine({ subtype: 'error_max_turns', is_error: true, errors: ['Reached maximum number of turns (1)'] })] };
  if (prompt.includes('[volume]')) throw new TerminalError('VolumeNotAllowed', 'volume validation failed: volume host path /etc is not allowed', { code: 'FORBIDDEN_PATH' });
  const ending = succeeded(`echo: ${prompt}`);
  return { ...ending, stdout: [init, ...(ending.stdout ?? [])] };
};
