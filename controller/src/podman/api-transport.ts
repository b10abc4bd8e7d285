// The seam under the libpod REST client: one HTTP request over podman's unix socket, or one
// long-lived line stream (events). UnixSocketTransport is the real one (node:http, keep-alive,
// so a run's five calls share one connection); FakeApiTransport (fake-api-transport.ts) is the
// scripted fake for unit tests. Nothing here reads podman's answers: callers decide by status.
import http from 'node:http';
import { createInterface } from 'node:readline';
import { TransientError } from '../../../contract/errors.ts';

/** The libpod API version prefix every path gets (podman 4.x serves v4.0.0 and later). */
export const LIBPOD_PREFIX = '/v4.0.0/libpod';

/** How long the loop waits before it retries a call that found the service down. */
export const SERVICE_DOWN_RETRY_MS = 1000;

/** One request of the libpod API. */
export interface ApiRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path below LIBPOD_PREFIX with its query, e.g. `/containers/x/json`. */
  path: string;
  /** Sent as JSON; default: no body. */
  body?: unknown;
  /** Aborts the request after this many ms; default: no limit. */
  timeoutMs?: number;
}

/** A complete answer. */
export interface ApiResponse {
  status: number;
  body: Buffer;
}

/** An open line stream (NDJSON); `lines` ends when the server closes it or `signal` aborts. */
export interface ApiLineStream {
  status: number;
  lines: AsyncIterable<string>;
}

/** How the REST client reaches podman. */
export interface ApiTransport {
  /** Throws TransientError when the service cannot be reached (not running yet, restarting). */
  request(request: ApiRequest): Promise<ApiResponse>;
  /** Opens a GET whose body is a stream of lines; resolves once the status is known. */
  stream(path: string, signal: AbortSignal): Promise<ApiLineStream>;
}

/** Options of UnixSocketTransport. */
export interface UnixSocketTransportOptions {
  /** Path of the socket `podman system service` listens on. */
  socketPath: string;
  /** Concurrent connections kept; default 64 (more than any run limit we use). */
  maxSockets?: number;
}

/** The libpod API over a unix socket, with keep-alive connections. */
export class UnixSocketTransport implements ApiTransport {
  readonly socketPath: string;
  readonly #agent: http.Agent;

  constructor(options: UnixSocketTransportOptions) {
    this.socketPath = options.socketPath;
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 64 });
  }

  request(request: ApiRequest): Promise<ApiResponse> {
    return new Promise((resolve, reject) => {
      const payload = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
      const req = http.request(
        {
          socketPath: this.socketPath,
          agent: this.#agent,
          method: request.method,
          path: `${LIBPOD_PREFIX}${request.path}`,
          headers: payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': payload.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
          res.on('error', (err) => reject(unreachable(request.method, request.path, err)));
        },
      );
      req.on('error', (err) => reject(unreachable(request.method, request.path, err)));
      if (request.timeoutMs !== undefined) req.setTimeout(request.timeoutMs, () => req.destroy(new Error(`no answer within ${request.timeoutMs} ms`)));
      req.end(payload);
    });
  }

  stream(path: string, signal: AbortSignal): Promise<ApiLineStream> {
    return new Promise((resolve, reject) => {
      // Its own connection (agent: false): a stream holds it for as long as it lasts.
      const req = http.request({ socketPath: this.socketPath, agent: false, method: 'GET', path: `${LIBPOD_PREFIX}${path}`, signal }, (res) => {
        res.on('error', () => undefined); // an abort or a dead service ends `lines`; nothing to report
        resolve({ status: res.statusCode ?? 0, lines: createInterface({ input: res, crlfDelay: Infinity }) });
      });
      req.on('error', (err) => reject(unreachable('GET', path, err)));
      req.end();
    });
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.#agent.destroy();
  }
}

function unreachable(method: string, path: string, cause: unknown): TransientError {
  return new TransientError(`podman service unreachable (${method} ${path.split('?')[0] ?? path})`, SERVICE_DOWN_RETRY_MS, { cause });
}
