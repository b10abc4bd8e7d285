// Server-sent events in Stromboli's framing (reference §6.1): one `data:` frame per output line,
// then `event: done` or `event: error`. Our additions: an `id:` of `<run>:<line>` on every line
// frame, so a client reconnecting with Last-Event-ID resumes after the last line it saw, and a
// comment heartbeat so idle proxies keep the connection.
import type { ServerResponse } from 'node:http';
import { compact } from '../../../contract/compact.ts';

/** Stromboli's stream headers (checklist item 33). */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
};

/** A stream position: the run and how many of its log lines the client already has. */
export interface StreamPosition {
  name: string;
  line: number;
}

export function formatEventId(position: StreamPosition): string {
  return `${position.name}:${position.line}`;
}

/** `<run>:<line>` (or a bare line number, for a client that names the run in the path). */
export function parseEventId(value: string | undefined): { name?: string; line: number } | undefined {
  if (value === undefined) return undefined;
  const match = /^(?:((?:run|job)-[0-9a-f]{16}):)?(\d{1,9})$/.exec(value.trim());
  if (match === null || match[2] === undefined) return undefined;
  return { ...compact({ name: match[1] }), line: Number(match[2]) };
}

/** Each physical line of a payload becomes its own `data:` field (CR and LF end SSE lines). */
function dataLines(payload: string): string {
  return payload
    .split(/\r\n|\r|\n/)
    .map((line) => `data: ${line}`)
    .join('\n');
}

export function lineFrame(line: string, id: string): string {
  return `id: ${id}\n${dataLines(line)}\n\n`;
}

export function eventFrame(event: 'done' | 'error', data: string): string {
  return `event: ${event}\n${dataLines(data)}\n\n`;
}

/** Writes frames with backpressure; a heartbeat comment keeps quiet streams alive. */
export class SseWriter {
  readonly #raw: ServerResponse;
  readonly #heartbeat: NodeJS.Timeout;

  constructor(raw: ServerResponse, options: { heartbeatMs: number }) {
    this.#raw = raw;
    this.#heartbeat = setInterval(() => {
      if (this.open) raw.write(': keep-alive\n\n');
    }, options.heartbeatMs);
    this.#heartbeat.unref();
  }

  get open(): boolean {
    return !this.#raw.destroyed && !this.#raw.writableEnded;
  }

  /** Resolves once the frame is handed over (after 'drain' when the socket is full); false when the client is gone. */
  async write(frame: string): Promise<boolean> {
    if (!this.open) return false;
    if (this.#raw.write(frame)) return true;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.#raw.off('drain', done);
        this.#raw.off('close', done);
        resolve();
      };
      this.#raw.on('drain', done);
      this.#raw.on('close', done);
    });
    return this.open;
  }

  end(): void {
    clearInterval(this.#heartbeat);
    if (this.open) this.#raw.end();
  }
}
