// The node agent's own `podman system service --time=0 unix://<stateDir>/podman.sock`, started
// through the Executor seam and supervised: ready once `/_ping` answers, restarted with
// jittered backoff when it dies, stopped on close. Containers do not depend on it (each has its
// conmon), so its death costs only the calls made while it restarts (TransientError, retried).
// A service left by a controller killed with SIGKILL (its child outlives it) is found by the pid
// file beside the socket and stopped first, so restarts never pile up services.
import { readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createBackoff } from '../../../contract/backoff.ts';
import type { BackoffOptions } from '../../../contract/backoff.ts';
import { boundedMessage } from '../../../contract/errors.ts';
import type { ExecResult, Executor, StreamHandle } from '../exec/executor.ts';
import type { Logger } from '../reconcile/types.ts';
import { abortableSleep } from '../../../contract/sleep.ts';

/** Default time a start may take until `/_ping` answers (podman 4.3 needs ~0.2 s here). */
export const DEFAULT_READY_TIMEOUT_MS = 10_000;

/** Options of PodmanService. */
export interface PodmanServiceOptions {
  executor: Executor;
  /** Where the service listens (a path, not a URL). */
  socketPath: string;
  /** Whether the service answers (PodmanApiClient.ping over socketPath). */
  ping: () => Promise<boolean>;
  /** The podman binary; default 'podman'. */
  podmanPath?: string;
  /** Extra environment of the service (e.g. CONTAINERS_CONF); default none. */
  env?: Record<string, string>;
  /** Default DEFAULT_READY_TIMEOUT_MS. */
  readyTimeoutMs?: number;
  /** How often readiness is polled; default 20 ms. */
  pollMs?: number;
  /** Restart delays; default 500 ms doubling to 30 s, equal jitter. */
  backoff?: BackoffOptions;
  /** Called each time a restarted service is ready. Default: nothing. */
  onRestart?: () => void;
  log?: Logger;
}

/** How a start ended. */
export type ServiceStart = { ok: true } | { ok: false; reason: string };

/** The supervised service. */
export class PodmanService {
  readonly #o: PodmanServiceOptions;
  readonly #backoff: (attempt: number) => number;
  #handle: StreamHandle | undefined;
  #abort: AbortController | undefined;
  #closing = false;
  #supervising: Promise<void> | undefined;
  #wakeClose: (() => void) | undefined;

  constructor(options: PodmanServiceOptions) {
    this.#o = options;
    this.#backoff = createBackoff({ baseMs: 500, capMs: 30_000, ...options.backoff });
  }

  /** The pid file that lets the next process stop a service this one left behind. */
  get pidFile(): string {
    return `${this.#o.socketPath}.pid`;
  }

  /** The service's process id while one runs (undefined under a fake executor). */
  get pid(): number | undefined {
    return this.#handle?.pid;
  }

  /** Starts the service and waits until it answers; `ok: false` (with why) when it cannot. */
  async start(): Promise<ServiceStart> {
    await this.#stopLeftover();
    const first = await this.#spawn();
    if (first.ok) this.#supervising = this.#supervise();
    return first;
  }

  /** Stops the service and its supervision; containers keep running. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#wakeClose?.();
    this.#abort?.abort();
    await this.#handle?.done;
    await this.#supervising;
    await rm(this.pidFile, { force: true });
  }

  async #spawn(): Promise<ServiceStart> {
    await rm(this.#o.socketPath, { force: true });
    const abort = new AbortController();
    const argv = [this.#o.podmanPath ?? 'podman', 'system', 'service', '--time=0', `unix://${this.#o.socketPath}`];
    const handle = this.#o.executor.stream(argv, { signal: abort.signal, ...(this.#o.env === undefined ? {} : { env: this.#o.env }) });
    this.#abort = abort;
    this.#handle = handle;
    void drain(handle.lines);
    let ended: ExecResult | undefined;
    void handle.done.then((result) => (ended = result));
    const deadline = Date.now() + (this.#o.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS);
    while (ended === undefined && !this.#closing) {
      if (await this.#o.ping()) {
        if (handle.pid !== undefined) await writeFile(this.pidFile, String(handle.pid), { mode: 0o600 });
        return { ok: true };
      }
      if (Date.now() > deadline) {
        abort.abort();
        await handle.done;
        return { ok: false, reason: `podman system service did not answer /_ping within ${this.#o.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS} ms` };
      }
      await abortableSleep(this.#o.pollMs ?? 20);
    }
    const result = ended ?? (await handle.done);
    return { ok: false, reason: `podman system service exited (${describe(result)})` };
  }

  // Waits for the running service to end; unless closing, starts it again (with backoff).
  async #supervise(): Promise<void> {
    let failures = 0;
    while (!this.#closing) {
      const result = await this.#handle?.done;
      if (this.#closing) return;
      failures += 1;
      const delayMs = this.#backoff(failures);
      this.#o.log?.warn({ exit: result === undefined ? 'unknown' : describe(result), restartInMs: delayMs }, 'podman service exited; restarting');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        this.#wakeClose = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (this.#closing) return;
      const started = await this.#spawn();
      if (started.ok) {
        failures = 0;
        this.#o.log?.info({ pid: this.pid }, 'podman service restarted');
        this.#o.onRestart?.();
      }
    }
  }

  // A service of an earlier process on our socket (its pid file names it and its command line
  // names our socket): stopped, so the new one owns the socket alone.
  async #stopLeftover(): Promise<void> {
    const pid = Number((await readFile(this.pidFile, 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(pid) || pid <= 1 || !commandLineOf(pid).includes(this.#o.socketPath)) return;
    this.#o.log?.info({ pid }, 'stopping the podman service a previous process left');
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    for (let i = 0; i < 100 && commandLineOf(pid).includes(this.#o.socketPath); i += 1) await abortableSleep(20);
    if (commandLineOf(pid).includes(this.#o.socketPath)) process.kill(pid, 'SIGKILL');
  }
}

function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

function describe(result: ExecResult): string {
  const how = result.signal === undefined ? `exit ${String(result.exitCode)}` : `signal ${result.signal}`;
  const last = result.stderr.trim().split('\n').pop() ?? '';
  return last === '' ? how : `${how}: ${boundedMessage(last, 200)}`;
}

async function drain(lines: AsyncIterable<string>): Promise<void> {
  for await (const _line of lines) {
    // the service prints nothing on stdout; read so the pipe never fills
  }
}
