import { describe, expect, it } from 'vitest';
import { summarizeTranscript } from './stream-json.ts';

const lines = (...events: object[]) => events.map((e) => JSON.stringify(e)).join('\n');

describe('summarizeTranscript', () => {
  it('reads init, assistant text and the result event', () => {
    const s = summarizeTranscript(
      lines(
        { type: 'system', subtype: 'init', session_id: 'a', model: 'claude-x' },
        { type: 'assistant', message: { content: [{ type: 'text', text: 'part one' }, { type: 'tool_use', name: 'Bash' }] } },
        { type: 'user', message: { content: [] } },
        { type: 'assistant', message: { content: [{ type: 'text', text: 'part two' }] } },
        {
          type: 'result',
          subtype: 'success',
          is_error: false,
          result: 'final',
          session_id: 'a',
          total_cost_usd: 0.0412,
          num_turns: 2,
          duration_ms: 8421.4,
          duration_api_ms: 6210,
          structured_output: { ok: true },
          usage: { input_tokens: 5702, output_tokens: 188, cache_creation_input_tokens: 0, cache_read_input_tokens: 23040 },
        },
      ),
    );
    expect(s.sessionId).toBe('a');
    expect(s.model).toBe('claude-x');
    expect(s.assistantText).toBe('part one\npart two');
    expect(s.events).toBe(5);
    expect(s.result).toEqual({
      subtype: 'success',
      isError: false,
      result: 'final',
      sessionId: 'a',
      costUSD: 0.0412,
      numTurns: 2,
      durationMs: 8421,
      durationApiMs: 6210,
      structuredOutput: { ok: true },
      inputTokens: 5702,
      outputTokens: 188,
      cacheCreationInputTokens: 0,
      cacheReadInputTokens: 23040,
    });
  });

  it('ignores garbage, unknown events and a torn last line', () => {
    const s = summarizeTranscript(['not json', '{"type":"rate_limit_event"}', '{broken', '', '{"type":"result","subtype":"success","is_e'].join('\n'));
    expect(s.result).toBeUndefined();
    expect(s.events).toBe(1);
  });

  it('treats a missing is_error by the subtype, and keeps errors and the API error status', () => {
    const s = summarizeTranscript(lines({ type: 'result', subtype: 'error_max_turns', errors: ['Reached maximum number of turns (1)'] }));
    expect(s.result?.isError).toBe(true);
    expect(s.result?.errors).toEqual(['Reached maximum number of turns (1)']);
    const api = summarizeTranscript(lines({ type: 'result', subtype: 'success', is_error: true, api_error_status: 401, terminal_reason: 'api_error' }));
    expect(api.result).toMatchObject({ isError: true, apiErrorStatus: 401, terminalReason: 'api_error' });
  });

  it('bounds the assistant text it keeps', () => {
    const big = 'x'.repeat(10_000);
    const s = summarizeTranscript(lines(...Array.from({ length: 5 }, () => ({ type: 'assistant', message: { content: [{ type: 'text', text: big }] } }))));
    expect(s.assistantText.length).toBeLessThanOrEqual(16 * 1024);
  });
});
