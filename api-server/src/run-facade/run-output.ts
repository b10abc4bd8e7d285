// The `output` field. Stromboli returns what the CLI printed in the format the client asked for;
// the controller always runs stream-json and keeps a bounded result in status, so the facade
// renders: text → the result text (from the persisted log when status had to truncate it),
// json → the CLI's result event (what `--output-format json` prints), stream-json → every line.
import type { LogReader, StoredRun } from '../../../contract/ports.ts';
import { outputFormatOf } from './run-view.ts';
import { compact } from '../../../contract/compact.ts';

/** Upper bound of an output assembled from the log; beyond it the text is cut (the log stays whole). */
export const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

function parseObject(line: string): Record<string, unknown> | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(trimmed);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function trimmed(text: string | undefined): string | undefined {
  const out = text?.trim();
  return out === undefined || out === '' ? undefined : out;
}

/**
 * Why: one function decides `output` for /run, /jobs and webhooks. Reads the log only when status
 * cannot answer (truncated result, json or stream-json asked for); a missing log falls back to status.
 */
export async function outputOf(run: StoredRun, logs: LogReader, signal: AbortSignal): Promise<string | undefined> {
  const format = outputFormatOf(run);
  const fromStatus = trimmed(run.status?.result);
  if (format === 'text' && run.status?.resultTruncated !== true) return fromStatus;

  const lines: string[] = [];
  let bytes = 0;
  let resultLine: string | undefined;
  try {
    const attempt = run.status?.attempt;
    for await (const line of logs.lines(run, { follow: false, signal, ...compact({ attempt }) })) {
      if (parseObject(line)?.type === 'result') resultLine = line;
      if (format === 'stream-json' && bytes < MAX_OUTPUT_BYTES) {
        lines.push(line);
        bytes += Buffer.byteLength(line, 'utf8') + 1;
      }
    }
  } catch {
    return fromStatus; // the log is gone or unreadable: status is still a fair answer
  }
  if (format === 'stream-json') return trimmed(lines.join('\n')) ?? fromStatus;
  if (resultLine === undefined) return fromStatus;
  if (format === 'json') return resultLine.trim();
  const result = parseObject(resultLine)?.result;
  return typeof result === 'string' ? trimmed(result) : fromStatus;
}
