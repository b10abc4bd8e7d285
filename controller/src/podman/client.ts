// The typed podman client: every podman command of the controller, over the Executor seam.
// Outcomes are decided from exit codes and JSON output only, never from podman's error text
// (STYLE.md §4). Facts it relies on, checked with podman 4.3.1:
//   - `container inspect` of a missing container exits 125 and prints [] (so does any other
//     failure): absence is confirmed with `container exists` (0 present, 1 absent);
//   - `image exists` exits 0 / 1; `stop --ignore` and `rm --ignore` exit 0 for a missing container;
//   - `secret ls --format json` prints the word "json", so secrets are listed as JSON lines;
//     there is no `secret exists` and no `secret create --replace`;
//   - `secret create NAME -` refuses a stdin that is not a FIFO (Node's child stdin is a socket),
//     so values go through `secret create --env NAME VAR` instead, never through argv;
//   - 126 / 127 come from the Executor when the podman binary cannot be run; from `podman run`
//     they mean the container's command is not executable / not found.

import { AppError, ValidationError } from '../../../contract/errors.ts';
import { CommandError } from '../exec/command-error.ts';
import type { ExecResult, Executor, StreamHandle } from '../exec/executor.ts';
import { parseContainerId, parseContainerInspect, parseContainerList, parseImageId, parseImageList, parseSearchResults, parseSecretList } from './parse.ts';
import type { ContainerState, ContainerSummary, ImageSummary, SearchHit, SecretSummary } from './parse.ts';
import { compact } from '../../../contract/compact.ts';

/** Default time limit of one short podman command (everything but logs and wait). */
export const DEFAULT_COMMAND_TIMEOUT_MS = 120_000;

/** podman refuses secret values outside 1..511999 bytes; we check before sending. */
export const MAX_SECRET_BYTES = 511_999;

/** The variable that carries a secret value to `podman secret create --env`, for that command only. */
export const SECRET_VALUE_ENV = 'STROMBOLI_SECRET_VALUE';

const EXIT_NOT_EXECUTABLE = 126;
const EXIT_NOT_FOUND = 127;
const EXIT_ABSENT = 1;

/** Everything PodmanClient needs, passed once; never mutated. */
export interface PodmanClientOptions {
  /** Runs every podman command (ExecaExecutor in production, FakeExecutor in unit tests). */
  executor: Executor;
  /** The podman binary; default 'podman' (looked up on PATH). */
  podmanPath?: string;
  /** Extra environment for every podman command (e.g. CONTAINERS_CONF); default none, the rest is inherited. */
  env?: Record<string, string>;
  /** Time limit of each short command; default DEFAULT_COMMAND_TIMEOUT_MS. `stop` adds its grace period. */
  commandTimeoutMs?: number;
}

/** Options of PodmanClient.run. */
export interface RunOptions {
  /** Aborts the command; default: none. */
  signal?: AbortSignal;
}

/** Options of PodmanClient.remove. */
export interface RemoveOptions {
  /** Remove even a running container, killing it at once (`--force --time 0`); default false. */
  force?: boolean;
}

/** Options of PodmanClient.logs. */
export interface LogsOptions {
  /** Keep streaming until the container exits (`--follow`); default false. */
  follow?: boolean;
  /** Ends the stream (the `podman logs` process is killed); default: none. */
  signal?: AbortSignal;
  /** Only lines logged at or after this time (`--since`); default: all. */
  since?: Date;
}

/** Options of PodmanClient.searchImages and pullImage. */
export interface RegistryOptions {
  /** Require TLS and a trusted certificate (`--tls-verify`); default true. False for a plain-http loopback registry. */
  tlsVerify?: boolean;
}

/** Options of PodmanClient.searchImages. */
export interface SearchOptions extends RegistryOptions {
  /** At most this many results (`--limit`). */
  limit: number;
  /** Full descriptions (`--no-trunc`); default false. */
  noTrunc?: boolean;
}

/** Options of PodmanClient.pullImage. */
export interface PullOptions extends RegistryOptions {
  /** OS/ARCH[/VARIANT] to pull (`--platform`); default: this machine's. */
  platform?: string;
}

/** podman cannot be run at all (not installed, not executable): code UNAVAILABLE. */
export class PodmanUnavailableError extends AppError {
  constructor(podmanPath: string, cause: CommandError) {
    super('UNAVAILABLE', 'podman is not installed or cannot be executed', { cause, details: { podmanPath, exitCode: cause.exitCode } });
  }
}

/** Typed podman operations; the only code that knows podman's command lines and exit codes. */
export class PodmanClient {
  readonly #executor: Executor;
  readonly #podmanPath: string;
  readonly #env: Record<string, string> | undefined;
  readonly #timeoutMs: number;

  constructor(options: PodmanClientOptions) {
    this.#executor = options.executor;
    this.#podmanPath = options.podmanPath ?? 'podman';
    this.#env = options.env === undefined ? undefined : { ...options.env };
    this.#timeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    if (!Number.isFinite(this.#timeoutMs) || this.#timeoutMs <= 0) {
      throw new TypeError(`commandTimeoutMs must be a positive number, got ${String(this.#timeoutMs)} (${typeof this.#timeoutMs})`);
    }
  }

  /** Runs `podman <runArgs>` (a detached `run`, from buildPodmanRunArgs) and returns the container id. */
  async run(runArgs: readonly string[], options: RunOptions = {}): Promise<string> {
    checkDetachedRun(runArgs);
    const argv = this.#argv(runArgs);
    const result = await this.#executor.run(argv, this.#execOptions(options.signal));
    if (result.exitCode === 0) return parseContainerId(result.stdout);
    const error = new CommandError({ argv, result, message: 'podman run failed' });
    if (result.exitCode === EXIT_NOT_FOUND || result.exitCode === EXIT_NOT_EXECUTABLE) await this.#ensureRunnable(error);
    throw error;
  }

  /** The container's state, or undefined when no container has that name or id. */
  async inspect(name: string): Promise<ContainerState | undefined> {
    checkName(name);
    const { argv, result } = await this.#podman(['container', 'inspect', '--format', 'json', name]);
    if (result.exitCode === 0) return parseContainerInspect(result.stdout)[0];
    // podman 4.3 answers a missing container with exit 125 and an empty JSON array: decided from
    // the JSON in one call; any other failure is confirmed with `container exists`.
    if (result.exitCode === 125 && isEmptyJsonArray(result.stdout)) return undefined;
    const error = this.#failure(argv, result, 'podman inspect failed');
    if (error instanceof PodmanUnavailableError || (await this.containerExists(name))) throw error;
    return undefined;
  }

  /** Whether a container with that name or id exists (`podman container exists`). */
  async containerExists(name: string): Promise<boolean> {
    checkName(name);
    return this.#exists(['container', 'exists', name], 'podman container exists failed');
  }

  /** Every container (any state) carrying all of `labels`; at least one label is required. */
  async listByLabel(labels: Readonly<Record<string, string>>): Promise<ContainerSummary[]> {
    const filters = Object.entries(labels)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .flatMap(([key, value]) => ['--filter', `label=${checkLabelKey(key)}=${value}`]);
    if (filters.length === 0) throw new ValidationError('listByLabel needs at least one label');
    const { argv, result } = await this.#podman(['ps', '--all', '--format', 'json', ...filters]);
    if (result.exitCode !== 0) throw this.#failure(argv, result, 'podman ps failed');
    return parseContainerList(result.stdout);
  }

  /** SIGTERM, then SIGKILL after timeoutSeconds. A missing or already stopped container is fine. */
  async stop(name: string, timeoutSeconds: number): Promise<void> {
    checkName(name);
    if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 0) {
      throw new ValidationError('stop timeout must be a non-negative integer', { details: { timeoutSeconds } });
    }
    const timeoutMs = this.#timeoutMs + timeoutSeconds * 1000;
    const { argv, result } = await this.#podman(['stop', '--ignore', '--time', String(timeoutSeconds), name], { timeoutMs });
    if (result.exitCode !== 0) throw this.#failure(argv, result, 'podman stop failed');
  }

  /** Removes the container; a missing one is fine. Without `force` a running container is an error. */
  async remove(name: string, options: RemoveOptions = {}): Promise<void> {
    checkName(name);
    const force = options.force === true ? ['--force', '--time', '0'] : [];
    const { argv, result } = await this.#podman(['rm', '--ignore', ...force, name]);
    if (result.exitCode !== 0) throw this.#failure(argv, result, 'podman rm failed');
  }

  /**
   * Streams the container's stdout lines (`podman logs`). Never throws: `done` tells how it ended
   * (exit 125 when the container does not exist, 127 when podman cannot be run).
   */
  logs(name: string, options: LogsOptions = {}): StreamHandle {
    checkName(name);
    const args = [
      'logs',
      ...(options.follow === true ? ['--follow'] : []),
      ...(options.since === undefined ? [] : ['--since', options.since.toISOString()]),
      name,
    ];
    return this.#executor.stream(this.#argv(args), this.#streamOptions(options.signal));
  }

  /** Whether the image is in local storage (nothing is ever pulled). */
  async imageExists(ref: string): Promise<boolean> {
    checkName(ref);
    return this.#exists(['image', 'exists', ref], 'podman image exists failed');
  }

  /** Every image in local storage. */
  async listImages(): Promise<ImageSummary[]> {
    const { argv, result } = await this.#podman(['images', '--format', 'json']);
    if (result.exitCode !== 0) throw this.#failure(argv, result, 'podman images failed');
    return parseImageList(result.stdout);
  }

  /**
   * Repositories of one registry matching `term` (HOST:PORT/TERM): podman reads a v2 registry's
   * catalog and keeps the names containing TERM. Exit 125 for an unreachable registry.
   */
  async searchImages(term: string, options: SearchOptions): Promise<SearchHit[]> {
    checkName(term);
    const args = ['search', '--format', 'json', '--limit', String(options.limit), ...(options.noTrunc === true ? ['--no-trunc'] : []), tlsFlag(options), term];
    const { argv, result } = await this.#podman(args);
    if (result.exitCode !== 0) throw this.#failure(argv, result, 'podman search failed');
    return parseSearchResults(result.stdout);
  }

  /** Pulls `ref` into local storage and returns its image id. Exit 125 for a missing image or registry. */
  async pullImage(ref: string, options: PullOptions = {}): Promise<string> {
    checkName(ref);
    const platform = options.platform === undefined ? [] : ['--platform', options.platform];
    const { argv, result } = await this.#podman(['pull', '--quiet', ...platform, tlsFlag(options), ref]);
    if (result.exitCode !== 0) throw this.#failure(argv, result, 'podman pull failed');
    return parseImageId(result.stdout);
  }

  /** Every podman secret (names and ids; podman never shows values). */
  async listSecrets(): Promise<SecretSummary[]> {
    const { argv, result } = await this.#podman(['secret', 'ls', '--format', '{{json .}}']);
    if (result.exitCode !== 0) throw this.#failure(argv, result, 'podman secret ls failed');
    return parseSecretList(result.stdout);
  }

  /** Whether a secret with exactly this name exists. */
  async secretExists(name: string): Promise<boolean> {
    checkName(name);
    return (await this.listSecrets()).some((secret) => secret.name === name);
  }

  /**
   * Creates the secret, replacing one of the same name (remove, then create: a container started
   * in between fails to find it). The value never goes into argv: podman reads it from the
   * environment of this one command (`--env`). Not `-` (stdin): podman 4.3 accepts stdin only
   * when it is a FIFO, and Node gives children a socket.
   */
  async createSecret(name: string, value: string): Promise<void> {
    checkName(name);
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes === 0 || bytes > MAX_SECRET_BYTES || value.includes('\0')) {
      throw new ValidationError('secret value must be 1 to 511999 bytes without NUL', { details: { name, bytes } });
    }
    await this.removeSecret(name);
    const args = ['secret', 'create', '--env', name, SECRET_VALUE_ENV];
    const { argv, result } = await this.#podman(args, { env: { [SECRET_VALUE_ENV]: value } });
    if (result.exitCode !== 0) throw this.#failure(argv, result, 'podman secret create failed');
  }

  /** Removes the secret; a missing one is fine. */
  async removeSecret(name: string): Promise<void> {
    checkName(name);
    const { argv, result } = await this.#podman(['secret', 'rm', name]);
    if (result.exitCode === 0) return;
    const error = this.#failure(argv, result, 'podman secret rm failed');
    if (error instanceof PodmanUnavailableError || (await this.secretExists(name))) throw error;
  }

  // exit 0 → true, 1 → false, anything else is a failure (the `exists` commands' contract).
  async #exists(args: readonly string[], message: string): Promise<boolean> {
    const { argv, result } = await this.#podman(args);
    if (result.exitCode === 0) return true;
    if (result.exitCode === EXIT_ABSENT) return false;
    throw this.#failure(argv, result, message);
  }

  async #podman(args: readonly string[], extra: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<{ argv: string[]; result: ExecResult }> {
    const argv = this.#argv(args);
    const options = this.#execOptions(undefined);
    const result = await this.#executor.run(argv, {
      ...options,
      ...compact({ timeoutMs: extra.timeoutMs }),
      ...(extra.env === undefined ? {} : { env: { ...options.env, ...extra.env } }),
    });
    return { argv, result };
  }

  // For commands other than `run`: 126/127 can only mean podman itself could not be run.
  #failure(argv: readonly string[], result: ExecResult, message: string): AppError {
    const error = new CommandError({ argv, result, message });
    if (result.exitCode === EXIT_NOT_FOUND || result.exitCode === EXIT_NOT_EXECUTABLE) {
      return new PodmanUnavailableError(this.#podmanPath, error);
    }
    return error;
  }

  // `podman run` exits 126/127 for the container's command too: ask podman itself to tell apart.
  async #ensureRunnable(runError: CommandError): Promise<void> {
    const { result } = await this.#podman(['--version']);
    if (result.exitCode === EXIT_NOT_FOUND || result.exitCode === EXIT_NOT_EXECUTABLE) {
      throw new PodmanUnavailableError(this.#podmanPath, runError);
    }
  }

  #argv(args: readonly string[]): string[] {
    return [this.#podmanPath, ...args];
  }

  #execOptions(signal: AbortSignal | undefined) {
    return { ...this.#streamOptions(signal), timeoutMs: this.#timeoutMs };
  }

  // No time limit: logs -f and wait last as long as the container.
  #streamOptions(signal: AbortSignal | undefined) {
    return {
      ...(this.#env === undefined ? {} : { env: this.#env }),
      ...compact({ signal }),
    };
  }
}

// Names and refs reach podman as positional arguments: refuse what podman would read as a flag.
function tlsFlag(options: RegistryOptions): string {
  return `--tls-verify=${String(options.tlsVerify ?? true)}`;
}

function checkName(name: string): void {
  if (name === '' || name.startsWith('-')) {
    throw new ValidationError('podman name must be non-empty and must not start with "-"', { details: { name } });
  }
}

function checkLabelKey(key: string): string {
  if (key === '' || key.includes('=')) {
    throw new ValidationError('label key must be non-empty and must not contain "="', { details: { key } });
  }
  return key;
}

function checkDetachedRun(runArgs: readonly string[]): void {
  const detached = runArgs.some((arg) => arg === '--detach' || arg === '-d' || arg === '--detach=true');
  if (runArgs[0] !== 'run' || !detached) {
    throw new ValidationError('run args must be a detached podman run', { details: { first: runArgs[0] ?? null, detached } });
  }
}

function isEmptyJsonArray(stdout: string): boolean {
  try {
    const value: unknown = JSON.parse(stdout);
    return Array.isArray(value) && value.length === 0;
  } catch {
    return false;
  }
}
