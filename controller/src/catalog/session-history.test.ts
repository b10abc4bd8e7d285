import { mkdir, mkdtemp, rm, symlink, writeFile, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findTranscript, parseHistoryLine, readTranscriptLines, titleOf } from './session-history.ts';

const SID = '5f0c8a9e-3b1d-4e2a-9c47-1d2e3f4a5b6c';

// Lines shaped as claude-cli.md §4 shows them (2.1.332).
const TRANSCRIPT = [
  `{"type":"queue-operation","operation":"enqueue","timestamp":"2026-11-29T14:02:10.000Z","sessionId":"${SID}","content":"Fix the flaky test in api.spec.ts"}`,
  `{"parentUuid":null,"isSidechain":false,"type":"user","message":{"role":"user","content":"Fix the flaky test in api.spec.ts"},"uuid":"a1b2c3d4-0001-4000-8000-000000000001","timestamp":"2026-11-29T14:02:10.101Z","permissionMode":"acceptEdits","promptSource":"sdk","userType":"external","entrypoint":"sdk-cli","cwd":"/workspace/repo","sessionId":"${SID}","version":"2.1.332","gitBranch":"main"}`,
  `{"parentUuid":"a1b2c3d4-0001-4000-8000-000000000001","isSidechain":false,"type":"assistant","message":{"id":"msg_01Q8vJm3TnWzR5xY2kPa7bCd","type":"message","role":"assistant","model":"claude-sonnet-5-5","content":[{"type":"tool_use","id":"toolu_01","name":"Bash","input":{"command":"ls"}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":2841,"output_tokens":41,"cache_creation_input_tokens":0,"cache_read_input_tokens":11520}},"requestId":"req_1","uuid":"a1b2c3d4-0002-4000-8000-000000000002","timestamp":"2026-11-29T14:02:19.877Z","userType":"external","entrypoint":"sdk-cli","cwd":"/workspace/repo","sessionId":"${SID}","version":"2.1.332","gitBranch":"main"}`,
  `{"parentUuid":"a1b2c3d4-0002-4000-8000-000000000002","isSidechain":false,"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":[{"type":"text","text":"api.spec.ts"},{"type":"text","text":"package.json"}],"is_error":false}]},"toolUseResult":{"stdout":"api.spec.ts\\npackage.json","stderr":"","interrupted":false,"isImage":false},"uuid":"a1b2c3d4-0003-4000-8000-000000000003","timestamp":"2026-11-29T14:02:20.000Z","cwd":"/workspace/repo","sessionId":"${SID}","version":"2.1.332"}`,
  `{"type":"attachment","attachment":{"type":"reminder"},"uuid":"x","sessionId":"${SID}"}`,
  `{"type":"custom-title","customTitle":"Flaky test","sessionId":"${SID}"}`,
  `{"type":"last-prompt","lastPrompt":"Fix the flaky test in api.spec.ts","leafUuid":"a1b2c3d4-0003-4000-8000-000000000003","sessionId":"${SID}"}`,
  'this line is not JSON',
].join('\n');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stromboli-history-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeTranscript(home: string, folder: string, text: string): Promise<string> {
  await mkdir(join(home, '.claude', 'projects', folder), { recursive: true });
  const path = join(home, '.claude', 'projects', folder, `${SID}.jsonl`);
  await writeFile(path, text);
  return path;
}

async function collect(lines: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const line of lines) out.push(line);
  return out;
}

describe('parseHistoryLine', () => {
  it('maps a prompt line, its string content becoming one text block', () => {
    expect(parseHistoryLine(TRANSCRIPT.split('\n')[1] ?? '')).toEqual({
      type: 'user',
      uuid: 'a1b2c3d4-0001-4000-8000-000000000001',
      sessionId: SID,
      timestamp: '2026-11-29T14:02:10.101Z',
      cwd: '/workspace/repo',
      gitBranch: 'main',
      version: '2.1.332',
      permissionMode: 'acceptEdits',
      content: { role: 'user', blocks: [{ type: 'text', text: 'Fix the flaky test in api.spec.ts' }] },
    });
  });

  it('maps an assistant line with its model, id, stop reason and usage', () => {
    expect(parseHistoryLine(TRANSCRIPT.split('\n')[2] ?? '')).toMatchObject({
      type: 'assistant',
      parentUuid: 'a1b2c3d4-0001-4000-8000-000000000001',
      content: {
        role: 'assistant',
        model: 'claude-sonnet-5-5',
        messageId: 'msg_01Q8vJm3TnWzR5xY2kPa7bCd',
        blocks: [{ type: 'tool_use', id: 'toolu_01', name: 'Bash', input: { command: 'ls' } }],
        stopReason: 'tool_use',
        usage: { inputTokens: 2841, outputTokens: 41, cacheCreationInputTokens: 0, cacheReadInputTokens: 11520 },
      },
    });
  });

  it('keeps a tool_result whose content is an array, as text (Stromboli empties the whole message)', () => {
    expect(parseHistoryLine(TRANSCRIPT.split('\n')[3] ?? '')).toMatchObject({
      content: { blocks: [{ type: 'tool_result', toolUseId: 'toolu_01', content: 'api.spec.ts\npackage.json', isError: false }] },
      toolResult: { stdout: 'api.spec.ts\npackage.json', stderr: '', interrupted: false, isImage: false },
    });
  });

  it.each([['queue-operation'], ['attachment'], ['last-prompt'], ['custom-title'], ['cost-state']])('hides %s records', (type) => {
    expect(parseHistoryLine(JSON.stringify({ type, uuid: 'u' }))).toBeUndefined();
  });

  it('skips lines that are not JSON or have no type, and drops a timestamp that is not a date', () => {
    expect(parseHistoryLine('{oops')).toBeUndefined();
    expect(parseHistoryLine('{"uuid":"u"}')).toBeUndefined();
    expect(parseHistoryLine('{"type":"user","uuid":"u","timestamp":"yesterday"}')).toEqual({ type: 'user', uuid: 'u' });
  });
});

describe('titleOf', () => {
  it('prefers the last custom title, then the AI title, else ""', async () => {
    expect(await titleOf(TRANSCRIPT.split('\n'))).toBe('Flaky test');
    expect(await titleOf(['{"type":"ai-title","aiTitle":"Generated"}', '{"type":"user"}'])).toBe('Generated');
    expect(await titleOf(['{"type":"ai-title","aiTitle":"A"}', '{"type":"custom-title","customTitle":"B"}', '{"type":"ai-title","aiTitle":"C"}'])).toBe('B');
    expect(await titleOf([])).toBe('');
  });
});

describe('findTranscript', () => {
  it('finds <home>/.claude/projects/<any>/<id>.jsonl, the newest when several folders hold one', async () => {
    const older = await writeTranscript(dir, '-workspace', 'a');
    const newer = await writeTranscript(dir, '-workspace-other', 'b');
    await utimes(older, new Date(1000), new Date(1000));
    expect(await findTranscript(dir, SID)).toBe(newer);
  });

  it('answers undefined when there is none', async () => {
    expect(await findTranscript(dir, SID)).toBeUndefined();
    await mkdir(join(dir, '.claude', 'projects', '-workspace'), { recursive: true });
    expect(await findTranscript(dir, SID)).toBeUndefined();
  });

  it('never follows a symlink the container planted, at any level', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'stromboli-outside-'));
    try {
      await writeTranscript(outside, '-workspace', 'host secret');
      // the transcript itself
      await mkdir(join(dir, 'a', '.claude', 'projects', '-w'), { recursive: true });
      await symlink(join(outside, '.claude', 'projects', '-workspace', `${SID}.jsonl`), join(dir, 'a', '.claude', 'projects', '-w', `${SID}.jsonl`));
      expect(await findTranscript(join(dir, 'a'), SID)).toBeUndefined();
      // a project folder
      await mkdir(join(dir, 'b', '.claude', 'projects'), { recursive: true });
      await symlink(join(outside, '.claude', 'projects', '-workspace'), join(dir, 'b', '.claude', 'projects', '-w'));
      expect(await findTranscript(join(dir, 'b'), SID)).toBeUndefined();
      // ~/.claude itself
      await mkdir(join(dir, 'c'), { recursive: true });
      await symlink(join(outside, '.claude'), join(dir, 'c', '.claude'));
      expect(await findTranscript(join(dir, 'c'), SID)).toBeUndefined();
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });
});

describe('readTranscriptLines', () => {
  it('yields every line, the last one without a newline too', async () => {
    const path = await writeTranscript(dir, '-w', 'one\ntwo\n\nthree');
    expect(await collect(readTranscriptLines(path))).toEqual(['one', 'two', '', 'three']);
  });

  it('skips a line longer than the limit without losing the next ones, across chunk boundaries', async () => {
    const long = 'x'.repeat(200_000);
    const path = await writeTranscript(dir, '-w', `first\n${long}\nafter\n${'y'.repeat(50)}`);
    expect(await collect(readTranscriptLines(path, 100_000))).toEqual(['first', 'after', 'y'.repeat(50)]);
  });

  it('keeps multi-byte characters split across chunks', async () => {
    const text = `${'é'.repeat(70_000)}\nz`;
    const path = await writeTranscript(dir, '-w', text);
    expect(await collect(readTranscriptLines(path))).toEqual(['é'.repeat(70_000), 'z']);
  });

  it('refuses to open a symlink (O_NOFOLLOW)', async () => {
    const real = await writeTranscript(dir, '-w', 'x');
    const link = join(dir, 'link.jsonl');
    await symlink(real, link);
    await expect(collect(readTranscriptLines(link))).rejects.toThrow();
  });
});
