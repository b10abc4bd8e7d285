// Reads an attempt's persisted stream-json log as lines, and with follow keeps reading as the
// log grows until the run is finished: what `stromboli logs -f` and the API's streams serve, so a
// client that reconnects can replay from any line.
import { open } from 'node:fs/promises';

export interface TailOptions {
  /** Skip this many lines first. Default 0. */
  fromLine?: number;
  /** Keep reading while this says true; checked whenever the file has nothing new. */
  follow?: () => boolean | Promise<boolean>;
  signal?: AbortSignal;
  /** How often to look for new data while following. Default 200 ms. */
  pollMs?: number;
}

/** Lines of the file at `path` (a missing file is empty until it appears). */
export async function* tailLines(path: string, options: TailOptions = {}): AsyncGenerator<string> {
  const pollMs = options.pollMs ?? 200;
  let skip = options.fromLine ?? 0;
  let position = 0;
  let pending = '';
  for (;;) {
    if (options.signal?.aborted === true) return;
    const chunk = await readFrom(path, position);
    if (chunk.length > 0) {
      position += chunk.length;
      pending += chunk.toString('utf8');
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) {
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
      for (const line of pending.split('\n')) {
        if (line === '') continue;
        if (skip > 0) {
          skip -= 1;
          continue;
        }
        yield line;
      }
      return;
    }
    await delay(pollMs, options.signal);
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

function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
