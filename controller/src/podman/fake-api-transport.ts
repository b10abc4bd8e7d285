// FakeApiTransport: a small in-memory libpod behind the ApiTransport seam, for unit tests of the
// REST client and the runner's API path. It behaves (containers have states, create refuses a
// taken name or a missing image with a 500 as podman 4.3 does, died events reach open event
// streams) rather than verifying calls; every request is recorded.
import { TransientError } from '../../../contract/errors.ts';
import type { ApiLineStream, ApiRequest, ApiResponse, ApiTransport } from './api-transport.ts';
import { SERVICE_DOWN_RETRY_MS } from './api-transport.ts';

/** One container of the fake. */
export interface FakeContainer {
  id: string;
  name: string;
  /** The create body as sent. */
  body: Record<string, unknown>;
  state: 'created' | 'running' | 'exited';
  exitCode: number;
  labels: Record<string, string>;
}

interface OpenStream {
  push: (line: string) => void;
  end: () => void;
}

const json = (status: number, value: unknown): ApiResponse => ({ status, body: Buffer.from(JSON.stringify(value)) });
const empty = (status: number): ApiResponse => ({ status, body: Buffer.alloc(0) });
const podmanError = (status: number, cause: string): ApiResponse => json(status, { cause, message: cause, response: status });

/** A scripted libpod for tests. */
export class FakeApiTransport implements ApiTransport {
  /** Images in local storage. */
  readonly images = new Set<string>();
  /** Names of existing podman secrets. */
  readonly secrets = new Set<string>();
  readonly containers = new Map<string, FakeContainer>();
  /** Every request, in order. */
  readonly requests: ApiRequest[] = [];
  /** Names whose start fails (500, the container stays `created`), as a command podman cannot run. */
  readonly failStart = new Set<string>();
  /** While true, every request throws the TransientError a dead service gives. */
  down = false;
  readonly #streams = new Set<OpenStream>();
  #ids = 0;

  async request(request: ApiRequest): Promise<ApiResponse> {
    this.requests.push(request);
    await Promise.resolve();
    if (this.down) throw new TransientError('podman service unreachable (fake)', SERVICE_DOWN_RETRY_MS);
    const [path = '', query = ''] = request.path.split('?');
    const params = new URLSearchParams(query);
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    const [kind, name, action] = parts;
    if (path === '/_ping') return empty(200);
    if (kind === 'images' && action === 'exists') return empty(this.images.has(name ?? '') ? 204 : 404);
    if (kind === 'secrets' && action === 'json') return this.secrets.has(name ?? '') ? json(200, { ID: name }) : podmanError(404, 'no such secret');
    if (kind === 'containers' && name === 'create') return this.#create(request.body);
    if (kind === 'containers' && name === 'json') return json(200, this.#list(params));
    const c = this.containers.get(name ?? '');
    if (kind !== 'containers' || c === undefined) return podmanError(404, 'no such container');
    if (request.method === 'GET' && action === 'json') return json(200, inspectOf(c));
    if (request.method === 'GET' && action === 'exists') return empty(204);
    if (action === 'start') return this.#start(c);
    if (action === 'stop') {
      if (c.state !== 'running') return empty(304);
      this.exit(c.name, 143);
      return empty(204);
    }
    if (request.method === 'DELETE') {
      if (c.state === 'running' && params.get('force') !== 'true') return podmanError(409, 'container is running');
      if (c.state === 'running') this.exit(c.name, 137);
      this.containers.delete(c.name);
      return json(200, [{ Id: c.id }]);
    }
    return podmanError(404, 'no such route in the fake');
  }

  async stream(path: string, signal: AbortSignal): Promise<ApiLineStream> {
    await Promise.resolve();
    if (this.down) throw new TransientError('podman service unreachable (fake)', SERVICE_DOWN_RETRY_MS);
    if (!path.startsWith('/events')) return { status: 404, lines: (async function* () {})() };
    const queue: string[] = [];
    let wake: (() => void) | undefined;
    let ended = false;
    const stream: OpenStream = {
      push: (line) => {
        queue.push(line);
        wake?.();
      },
      end: () => {
        ended = true;
        wake?.();
      },
    };
    this.#streams.add(stream);
    signal.addEventListener('abort', stream.end, { once: true });
    const streams = this.#streams;
    async function* lines(): AsyncGenerator<string> {
      try {
        for (;;) {
          const line = queue.shift();
          if (line !== undefined) yield line;
          else if (ended) return;
          else await new Promise<void>((resolve) => (wake = resolve));
        }
      } finally {
        streams.delete(stream);
      }
    }
    return { status: 200, lines: lines() };
  }

  /** The container's process ends with `exitCode`: state exited, a died event on every open stream. */
  exit(name: string, exitCode: number): void {
    const c = this.containers.get(name);
    if (c === undefined || c.state !== 'running') return;
    c.state = 'exited';
    c.exitCode = exitCode;
    this.emit({ Type: 'container', Action: 'died', Actor: { ID: c.id, Attributes: { ...c.labels, name: c.name, containerExitCode: String(exitCode) } } });
  }

  /** Sends one raw line (an event object, or anything else) to every open event stream. */
  emit(event: unknown): void {
    const line = typeof event === 'string' ? event : JSON.stringify(event);
    for (const s of this.#streams) s.push(line);
  }

  /** Ends every open event stream, as a dying service does. */
  dropStreams(): void {
    for (const s of [...this.#streams]) s.end();
  }

  /** How many event streams are open. */
  get openStreams(): number {
    return this.#streams.size;
  }

  #create(body: unknown): ApiResponse {
    const spec = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const name = typeof spec['name'] === 'string' ? spec['name'] : '';
    const image = typeof spec['image'] === 'string' ? spec['image'] : '';
    if (!this.images.has(image)) return podmanError(500, 'image not known');
    if (this.containers.has(name)) return podmanError(500, 'that name is already in use');
    this.#ids += 1;
    const id = this.#ids.toString(16).padStart(64, '0');
    const labels = (spec['labels'] ?? {}) as Record<string, string>;
    this.containers.set(name, { id, name, body: spec, state: 'created', exitCode: 0, labels });
    return json(201, { Id: id, Warnings: [] });
  }

  #start(c: FakeContainer): ApiResponse {
    if (c.state === 'running') return empty(304);
    if (this.failStart.has(c.name)) return podmanError(500, 'OCI runtime attempted to invoke a command that was not found');
    c.state = 'running';
    return empty(204);
  }

  #list(params: URLSearchParams): unknown[] {
    const filters = JSON.parse(params.get('filters') ?? '{}') as { label?: string[] };
    const wanted = (filters.label ?? []).map((l) => l.split('=', 2) as [string, string]);
    return [...this.containers.values()]
      .filter((c) => wanted.every(([k, v]) => c.labels[k] === v))
      .map((c) => ({ Id: c.id, Names: [c.name], Image: String(c.body['image']), State: c.state, ExitCode: c.exitCode, Created: '2026-01-01T00:00:00Z', Labels: c.labels }));
  }
}

function inspectOf(c: FakeContainer): unknown {
  return {
    Id: c.id,
    Name: c.name,
    Image: 'sha',
    ImageName: String(c.body['image']),
    State: { Status: c.state, Running: c.state === 'running', OOMKilled: false, ExitCode: c.exitCode, StartedAt: '2026-01-01T00:00:00Z', FinishedAt: '0001-01-01T00:00:00Z' },
    Config: { Labels: c.labels },
  };
}
