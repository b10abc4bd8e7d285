// The typed podman client over the libpod REST API (`podman system service`), beside the CLI
// one (client.ts): the same operations and the same typed results (parse.ts reads the API's
// inspect and list JSON, which are the CLI's), one keep-alive HTTP request instead of one process
// per call. Outcomes are decided by HTTP status and JSON only, never by podman's error text.
// Facts it relies on, checked with podman 4.3.1:
//   - exists endpoints answer 204 / 404; inspect, stop, start and DELETE answer 404 for a
//     missing container; start answers 304 when already running, stop 304 when already stopped;
//   - create answers 500 for a missing image and for a name in use alike: callers tell them
//     apart with imageExists / containerExists, never by the text;
//   - a failed start (the command cannot be run) is a 500 that leaves the container `created`.
import { AppError, ValidationError } from '../../../contract/errors.ts';
import { boundedMessage } from '../../../contract/errors.ts';
import { scrub } from '../../../contract/redact.ts';
import type { ApiRequest, ApiResponse, ApiTransport } from './api-transport.ts';
import type { CreateBody } from './create-body.ts';
import { parseContainerInspect, parseContainerList } from './parse.ts';
import type { ContainerState, ContainerSummary } from './parse.ts';
import type { RemoveOptions } from './client.ts';

/** Default time limit of one request (everything but streams); as the CLI client's. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 120_000;

/** podman answered with a status we did not expect: code COMMAND_FAILED, the status in details. */
export class PodmanApiError extends AppError {
  /** The HTTP status podman answered. */
  readonly status: number;

  constructor(request: ApiRequest, response: ApiResponse) {
    // podman's own words, for people only (bounded, secrets scrubbed); never decided on.
    super('COMMAND_FAILED', `podman API ${request.method} ${request.path.split('?')[0] ?? ''} answered ${response.status}: ${podmanText(response)}`, {
      details: { method: request.method, status: response.status },
    });
    this.status = response.status;
  }
}

/** Options of PodmanApiClient. */
export interface PodmanApiClientOptions {
  /** How requests reach podman (UnixSocketTransport, or FakeApiTransport in tests). */
  transport: ApiTransport;
  /** Time limit of each request; default DEFAULT_REQUEST_TIMEOUT_MS. `stop` adds its grace period. */
  requestTimeoutMs?: number;
}

/** Typed podman operations over the REST API; the only code that knows libpod's paths and statuses. */
export class PodmanApiClient {
  readonly #transport: ApiTransport;
  readonly #timeoutMs: number;

  constructor(options: PodmanApiClientOptions) {
    this.#transport = options.transport;
    this.#timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!Number.isFinite(this.#timeoutMs) || this.#timeoutMs <= 0) {
      throw new TypeError(`requestTimeoutMs must be a positive number, got ${String(this.#timeoutMs)}`);
    }
  }

  /** The transport, for the event stream that shares it. */
  get transport(): ApiTransport {
    return this.#transport;
  }

  /** Whether the service answers (`/_ping`); false while it is down. */
  async ping(): Promise<boolean> {
    try {
      return (await this.#transport.request({ method: 'GET', path: '/_ping', timeoutMs: 2000 })).status === 200;
    } catch {
      return false;
    }
  }

  /** Creates the container (not started); returns its id. */
  async create(body: CreateBody): Promise<string> {
    const { response } = await this.#call({ method: 'POST', path: '/containers/create', body }, [201]);
    const id = parseJsonObject(response, 'create')['Id'];
    if (typeof id !== 'string' || !/^[0-9a-f]{64}$/.test(id)) throw new ValidationError('podman create answer has no container id', { details: { command: 'create' } });
    return id;
  }

  /** Starts a created container; an already running one is fine. */
  async start(name: string): Promise<void> {
    await this.#call({ method: 'POST', path: `/containers/${enc(name)}/start` }, [204, 304]);
  }

  /** The container's state, or undefined when no container has that name or id. */
  async inspect(name: string): Promise<ContainerState | undefined> {
    const { response } = await this.#call({ method: 'GET', path: `/containers/${enc(name)}/json` }, [200, 404]);
    if (response.status === 404) return undefined;
    // The answer holds the container's environment: parsed, never logged or put in an error.
    return parseContainerInspect(`[${response.body.toString('utf8')}]`)[0];
  }

  /** Whether a container with that name or id exists. */
  async containerExists(name: string): Promise<boolean> {
    return (await this.#call({ method: 'GET', path: `/containers/${enc(name)}/exists` }, [204, 404])).response.status === 204;
  }

  /** Every container (any state) carrying all of `labels`; at least one label is required. */
  async listByLabel(labels: Readonly<Record<string, string>>): Promise<ContainerSummary[]> {
    const label = Object.entries(labels)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, value]) => {
        if (key === '' || key.includes('=')) throw new ValidationError('label key must be non-empty and must not contain "="', { details: { key } });
        return `${key}=${value}`;
      });
    if (label.length === 0) throw new ValidationError('listByLabel needs at least one label');
    const filters = encodeURIComponent(JSON.stringify({ label }));
    const { response } = await this.#call({ method: 'GET', path: `/containers/json?all=true&filters=${filters}` }, [200]);
    return parseContainerList(response.body.toString('utf8'));
  }

  /** SIGTERM, then SIGKILL after timeoutSeconds. A missing or already stopped container is fine. */
  async stop(name: string, timeoutSeconds: number): Promise<void> {
    if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 0) {
      throw new ValidationError('stop timeout must be a non-negative integer', { details: { timeoutSeconds } });
    }
    const request: ApiRequest = { method: 'POST', path: `/containers/${enc(name)}/stop?t=${timeoutSeconds}`, timeoutMs: this.#timeoutMs + timeoutSeconds * 1000 };
    await this.#call(request, [204, 304, 404]);
  }

  /** Removes the container; a missing one is fine. Without `force` a running container is an error. */
  async remove(name: string, options: RemoveOptions = {}): Promise<void> {
    const query = options.force === true ? '?force=true&t=0' : '';
    await this.#call({ method: 'DELETE', path: `/containers/${enc(name)}${query}` }, [200, 204, 404]);
  }

  /** Whether the image is in local storage (nothing is ever pulled). */
  async imageExists(ref: string): Promise<boolean> {
    return (await this.#call({ method: 'GET', path: `/images/${enc(ref)}/exists` }, [204, 404])).response.status === 204;
  }

  /** Whether a podman secret with exactly this name (or id) exists. */
  async secretExists(name: string): Promise<boolean> {
    return (await this.#call({ method: 'GET', path: `/secrets/${enc(name)}/json` }, [200, 404])).response.status === 200;
  }

  async #call(request: ApiRequest, expected: readonly number[]): Promise<{ response: ApiResponse }> {
    const response = await this.#transport.request({ timeoutMs: this.#timeoutMs, ...request });
    if (!expected.includes(response.status)) throw new PodmanApiError(request, response);
    return { response };
  }
}

// Names reach podman in a path: refuse what no podman name can be, then encode.
function enc(name: string): string {
  if (name === '' || name.startsWith('-') || name.includes('\0')) {
    throw new ValidationError('podman name must be non-empty and must not start with "-"', { details: { name } });
  }
  return encodeURIComponent(name);
}

function parseJsonObject(response: ApiResponse, command: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(response.body.toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch (err) {
    throw new ValidationError('podman answer is not json', { cause: err, details: { command } });
  }
  throw new ValidationError('podman answer is not a json object', { details: { command } });
}

function podmanText(response: ApiResponse): string {
  try {
    const value: unknown = JSON.parse(response.body.toString('utf8'));
    if (typeof value === 'object' && value !== null && 'message' in value && typeof value.message === 'string') return boundedMessage(scrub(value.message), 300);
  } catch {
    // not JSON: fall through
  }
  return boundedMessage(scrub(response.body.toString('utf8')), 300);
}
