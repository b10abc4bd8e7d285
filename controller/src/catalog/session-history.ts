// Reads the conversation Claude wrote for a session: the JSONL transcript under the session's
// HOME (~/.claude/projects/<encoded-cwd>/<id>.jsonl, claude-cli.md §4), turned into typed
// history messages. The session directory is written by the container, so it is untrusted: no
// symlink is followed, only regular files are read, and over-long lines are skipped unread.
import { constants } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { HistoryBlock, HistoryContent, HistoryMessage, HistoryToolResult, HistoryUsage } from '../../../contract/catalog.ts';
import { compact } from '../../../contract/compact.ts';

export type { HistoryBlock, HistoryContent, HistoryMessage, HistoryToolResult, HistoryUsage };

/**
 * Line types that are conversation: Claude 2.1 also writes bookkeeping records (queue-operation,
 * attachment, last-prompt, cost-state, mode, api-request*, titles…) that are not messages.
 */
export const CONVERSATION_TYPES: ReadonlySet<string> = new Set(['user', 'assistant', 'system', 'summary']);

/** Lines longer than this are skipped without being held in memory (Stromboli's scanner limit). */
export const MAX_LINE_BYTES = 10 * 1024 * 1024;

const str = z.string().optional().catch(undefined);
const count = z.number().int().nonnegative().optional().catch(undefined);

const UsageSchema = z.looseObject({
  input_tokens: count,
  output_tokens: count,
  cache_creation_input_tokens: count,
  cache_read_input_tokens: count,
});

const MessageSchema = z.looseObject({
  role: str,
  model: str,
  id: str,
  content: z.unknown().optional(),
  stop_reason: z.string().nullish().catch(undefined),
  usage: UsageSchema.optional().catch(undefined),
});

const LineSchema = z.looseObject({
  type: z.string(),
  uuid: str,
  parentUuid: z.string().nullish().catch(undefined),
  sessionId: str,
  timestamp: str,
  cwd: str,
  gitBranch: str,
  version: str,
  permissionMode: str,
  message: MessageSchema.optional().catch(undefined),
  toolUseResult: z.unknown().optional(),
});

const BlockSchema = z.looseObject({
  type: z.string(),
  text: str,
  id: str,
  name: str,
  input: z.record(z.string(), z.unknown()).optional().catch(undefined),
  tool_use_id: str,
  content: z.unknown().optional(),
  is_error: z.boolean().optional().catch(undefined),
});

const ToolResultSchema = z.looseObject({
  stdout: str,
  stderr: str,
  interrupted: z.boolean().optional().catch(undefined),
  isImage: z.boolean().optional().catch(undefined),
});

const TitleSchema = z.looseObject({ type: z.string(), customTitle: str, aiTitle: str });


/** A tool_result's content: a string as is, an array's text parts joined (Stromboli drops the whole message's blocks then). */
function toolResultText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  const texts = content.flatMap((part) => {
    const parsed = z.looseObject({ type: z.string(), text: z.string() }).safeParse(part);
    return parsed.success && parsed.data.type === 'text' ? [parsed.data.text] : [];
  });
  return texts.join('\n');
}

function toBlocks(content: unknown): HistoryBlock[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (!Array.isArray(content)) return [];
  return content.flatMap((raw): HistoryBlock[] => {
    const parsed = BlockSchema.safeParse(raw);
    if (!parsed.success) return [];
    const b = parsed.data;
    return [
      compact({
        type: b.type,
        text: b.text,
        id: b.id,
        name: b.name,
        input: b.input,
        toolUseId: b.tool_use_id,
        content: b.type === 'tool_result' ? toolResultText(b.content) : undefined,
        isError: b.is_error,
      }),
    ];
  });
}

function toUsage(usage: z.infer<typeof UsageSchema> | undefined): HistoryUsage | undefined {
  if (usage === undefined) return undefined;
  return {
    inputTokens: usage.input_tokens ?? 0,
    outputTokens: usage.output_tokens ?? 0,
    cacheCreationInputTokens: usage.cache_creation_input_tokens ?? 0,
    cacheReadInputTokens: usage.cache_read_input_tokens ?? 0,
  };
}

/** One transcript line as a history message; undefined for lines that are not conversation or not JSON. */
export function parseHistoryLine(line: string): HistoryMessage | undefined {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return undefined;
  }
  const parsed = LineSchema.safeParse(json);
  if (!parsed.success || !CONVERSATION_TYPES.has(parsed.data.type)) return undefined;
  const l = parsed.data;
  const m = l.message;
  const toolResult = ToolResultSchema.safeParse(l.toolUseResult);
  return compact({
    type: l.type,
    uuid: l.uuid,
    parentUuid: l.parentUuid ?? undefined,
    sessionId: l.sessionId,
    timestamp: l.timestamp !== undefined && Number.isFinite(Date.parse(l.timestamp)) ? l.timestamp : undefined,
    cwd: l.cwd,
    gitBranch: l.gitBranch,
    version: l.version,
    permissionMode: l.permissionMode,
    content:
      m === undefined
        ? undefined
        : compact({ role: m.role, model: m.model, messageId: m.id, blocks: toBlocks(m.content), stopReason: m.stop_reason ?? undefined, usage: toUsage(m.usage) }),
    toolResult: toolResult.success
      ? compact({ stdout: toolResult.data.stdout, stderr: toolResult.data.stderr, interrupted: toolResult.data.interrupted, isImage: toolResult.data.isImage })
      : undefined,
  });
}

/** The session's title: the last custom title (`--name`), else the last AI title, else ''. */
export async function titleOf(lines: AsyncIterable<string> | Iterable<string>): Promise<string> {
  let custom = '';
  let ai = '';
  for await (const line of lines) {
    // Cheap filter first: title records are rare and small, transcripts are large.
    if (!line.includes('"custom-title"') && !line.includes('"ai-title"')) continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      continue;
    }
    const parsed = TitleSchema.safeParse(json);
    if (!parsed.success) continue;
    if (parsed.data.type === 'custom-title' && parsed.data.customTitle !== undefined) custom = parsed.data.customTitle;
    if (parsed.data.type === 'ai-title' && parsed.data.aiTitle !== undefined) ai = parsed.data.aiTitle;
  }
  return custom !== '' ? custom : ai;
}

async function isRealDirectory(path: string): Promise<boolean> {
  const info = await lstat(path).catch(() => undefined);
  return info?.isDirectory() === true;
}

/**
 * The transcript of session `id` under its HOME `sessionDir`: `.claude/projects/<any>/<id>.jsonl`,
 * the newest if several project folders hold one. Undefined when there is none. Symlinked folders
 * or files are ignored: the container could point them anywhere on the host.
 */
export async function findTranscript(sessionDir: string, id: string): Promise<string | undefined> {
  const projects = join(sessionDir, '.claude', 'projects');
  if (!(await isRealDirectory(join(sessionDir, '.claude'))) || !(await isRealDirectory(projects))) return undefined;
  const folders = await readdir(projects).catch(() => [] as string[]);
  let best: { path: string; mtimeMs: number } | undefined;
  for (const folder of folders.sort()) {
    if (!(await isRealDirectory(join(projects, folder)))) continue;
    const path = join(projects, folder, `${id}.jsonl`);
    const info = await lstat(path).catch(() => undefined);
    if (info?.isFile() !== true) continue;
    if (best === undefined || info.mtimeMs > best.mtimeMs) best = { path, mtimeMs: info.mtimeMs };
  }
  return best?.path;
}

/**
 * The lines of a transcript, read in chunks; lines over `maxLineBytes` are skipped without being
 * buffered. The file is opened with O_NOFOLLOW, so a symlink swapped in after findTranscript fails.
 */
export async function* readTranscriptLines(path: string, maxLineBytes = MAX_LINE_BYTES): AsyncGenerator<string, void, undefined> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    if (!(await handle.stat()).isFile()) return;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let skipping = false;
    for await (const chunk of handle.createReadStream({ autoClose: false, highWaterMark: 64 * 1024 }) as AsyncIterable<Buffer>) {
      let start = 0;
      for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
        const piece = chunk.subarray(start, nl);
        if (!skipping && pendingBytes + piece.length <= maxLineBytes) {
          yield Buffer.concat([...pending, piece]).toString('utf8');
        }
        pending = [];
        pendingBytes = 0;
        skipping = false;
        start = nl + 1;
      }
      const rest = chunk.subarray(start);
      if (skipping || rest.length === 0) continue;
      if (pendingBytes + rest.length > maxLineBytes) {
        skipping = true;
        pending = [];
        pendingBytes = 0;
      } else {
        pending.push(Buffer.from(rest));
        pendingBytes += rest.length;
      }
    }
    if (!skipping && pendingBytes > 0) yield Buffer.concat(pending).toString('utf8');
  } finally {
    await handle.close();
  }
}
