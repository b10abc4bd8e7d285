// Reads an attempt's persisted stream-json log as lines, and with follow keeps reading as the
// log grows until the run is finished: what `stromboli logs -f` and the API's streams serve, so a
// client that reconnects can replay from any line. Lines are numbered the same on every read:
// of a k8s file (the REST path), only stdout records count, partial records joined, so line N
// of a replay is line N of the transcript whichever file holds it.
import { open, stat } from 'node:fs/promises';
import { K8sLogDecoder } from './k8s-log.ts';
import { abortableSleep } from '../../../contract/sleep.ts';

export interface TailOptions {
  /** Skip this many lines first. Default 0. */
  fromLine?: number;
  /** Keep reading while this says true; checked whenever the file has nothing new. */
  follow?: () => boolean | Promise<boolean>;
  signal?: AbortSignal;
  /** How often to look for new data while following. Default 200 ms. */
  pollMs?: number;
  /** `lines`: plain lines (the follower's jsonl); `k8s-file`: conmon's records, stdout only. Default `lines`. */
  format?: 'lines' | 'k8s-file';
}

/** The two places an attempt's transcript can be (LogStore.k8sPath and stdoutPath). */
export interface TranscriptPaths {
  k8s: string;
  jsonl: string;
}

/**
 * Lines of an attempt's transcript from whichever file holds it: the k8s file when conmon
 * writes one, else the jsonl. While neither exists yet, waits (when following) for one to appear.
 */
export async function* tailTranscript(paths: TranscriptPaths, options: Omit<TailOptions, 'format'> = {}): AsyncGenerator<string> {
  for (;;) {
    if (options.signal?.aborted === true) return;
    if (await exists(paths.k8s)) return yield* tailLines(paths.k8s, { ...options, format: 'k8s-file' });
    if (await exists(paths.jsonl)) return yield* tailLines(paths.jsonl, options);
    const keepGoing = options.follow === undefined ? false : await options.follow();
    if (!keepGoing) {
      // The attempt may have ended between the looks: one last look at each.
      if (await exists(paths.k8s)) return yield* tailLines(paths.k8s, { ...options, format: 'k8s-file' });
      return yield* tailLines(paths.jsonl, options);
    }
    await abortableSleep(options.pollMs ?? 200, options.signal);
  }
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}

/** Lines of the file at `path` (a missing file is empty until it appears). */
export async function* tailLines(path: string, options: TailOptions = {}): AsyncGenerator<string> {
  const pollMs = options.pollMs ?? 200;
  let skip = options.fromLine ?? 0;
  let position = 0;
  let pending = '';
  // Of a k8s file, a record becomes a line only once complete, and only stdout is a line.
  const decoder = options.format === 'k8s-file' ? new K8sLogDecoder() : undefined;
  const decode = (record: string): string | undefined => {
    if (decoder === undefined) return record;
    const line = decoder.push(record);
    return line?.stream === 'stdout' ? line.text : undefined;
  };
  for (;;) {
    if (options.signal?.aborted === true) return;
    const chunk = await readFrom(path, position);
    if (chunk.length > 0) {
      position += chunk.length;
      pending += chunk.toString('utf8');
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const record of parts) {
        const line = decode(record);
        if (line === undefined) continue;
        if (skip > 0) {
          skip -= 1;
          continue;
        }
        yield line;
      }
      continue;
    }
    const keepGoing = options.follow === undefined ? false : await options.follow();
    if (!keepGoing) {
      // One last read: the writer may have flushed between our read and its end.
      const last = await readFrom(path, position);
      pending += last.toString('utf8');
      const rest: string[] = [];
      for (const record of pending.split('\n')) {
        if (record === '') continue;
        const line = decode(record);
        if (line !== undefined) rest.push(line);
      }
      for (const line of decoder?.flush() ?? []) if (line.stream === 'stdout') rest.push(line.text);
      for (const line of rest) {
        if (skip > 0) {
          skip -= 1;
          continue;
        }
        yield line;
      }
      return;
    }
    await abortableSleep(pollMs, options.signal);
  }
}

async function readFrom(path: string, position: number): Promise<Buffer> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const { size } = await handle.stat();
    if (size <= position) return Buffer.alloc(0);
    const buffer = Buffer.alloc(size - position);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
