// AgentRunner over podman: prepare turns a StartRequest into a PodmanRunSpec (run-spec.ts), then
// the container starts one of two ways (container-launch.ts): over the libpod REST API when the
// node agent's podman service is up (conmon writes the output to the attempt's k8s file, one
// event stream for the agent tells when containers end), else with the podman CLI (one `podman
// logs -f` follower per container persists the output). Which one an attempt used is read from
// its files, so a controller restarted into the other mode still adopts and collects it.
import { constants } from 'node:fs';
import { lstat, open, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { scrub } from '../../../contract/redact.ts';
import { DEFAULT_PIDS_LIMIT, DEFAULT_USER } from '../podman/args.ts';
import type { PodmanRunSpec } from '../podman/args.ts';
import type { PodmanApiClient } from '../podman/api-client.ts';
import type { PodmanClient } from '../podman/client.ts';
import type { DiedEvent } from '../podman/container-events.ts';
import type { Logger } from '../reconcile/types.ts';
import { imageNotFound, launchViaApi, launchViaCli } from './container-launch.ts';
import type { LogStore } from './log-store.ts';
import { Labels } from './names.ts';
import type { RunIdentity } from './names.ts';
import { prepareRunSpec } from './run-spec.ts';
import type { CredentialSecret } from './run-spec.ts';
import type { SessionDirs } from './session.ts';
import { summarizeTranscript } from './stream-json.ts';
import type { AgentRunner, AttemptRecord, ManagedContainer, ObservedContainer, StartRequest } from './types.ts';
import { compact } from '../../../contract/compact.ts';
import { Reasons } from '../../../contract/apis/v1alpha1/index.ts';
import { TerminalError, TransientError } from '../../../contract/errors.ts';
import { SESSION_INIT_LOCK, SESSION_MARKER, hasInitHooks } from './lifecycle.ts';

export { CONTAINER_HOME, IMAGE_WORKDIR } from './run-spec.ts';
export type { CredentialSecret } from './run-spec.ts';

/** The image of runs that name none: the agent image `stromboli images build` makes. */
export const DEFAULT_AGENT_IMAGE = 'localhost/stromboli/agent:latest';
/** Memory limit of a container whose spec sets none. */
export const DEFAULT_MEMORY = '512m';
/** CPU limit of a container whose spec sets none. */
export const DEFAULT_CPUS = '1';
/** Seconds podman waits past the deadline before it kills (its --timeout is deadline + this). */
export const DEFAULT_DEADLINE_GRACE_SECONDS = 30;

/** Everything the runner needs, passed once; never mutated. */
export interface PodmanAgentRunnerOptions {
  /** The CLI client: the fallback path, and `podman logs -f` for containers conmon does not log for us. */
  podman: PodmanClient;
  /** The REST client over the node agent's podman service; default none (every call through the CLI). */
  api?: PodmanApiClient;
  logs: LogStore;
  sessions: SessionDirs;
  /** Value of the owner label, so several controllers on one podman never touch each other's containers. */
  owner: string;
  /** Image used when the spec names none. Default DEFAULT_AGENT_IMAGE. */
  defaultImage?: string;
  /** Host paths volumes may come from (deny by default: empty refuses every volume). */
  allowedVolumes?: readonly string[];
  /** Image patterns runs may use (globs, Stromboli's rules). Default: any local image. */
  allowedImages?: readonly string[];
  /** Default DEFAULT_MEMORY (512m). */
  defaultMemory?: string;
  /** Default DEFAULT_CPUS ('1'). */
  defaultCpus?: string;
  /** Default DEFAULT_PIDS_LIMIT (256). */
  pidsLimit?: number;
  /** Container user. Default DEFAULT_USER (1000:1000, the agent image's non-root user). */
  user?: string;
  /** podman --network value; default: podman's default network. */
  network?: string;
  /** Non-secret environment for every container (e.g. ANTHROPIC_BASE_URL). */
  env?: Record<string, string>;
  /** Server-wide credentials, as podman secrets. */
  credentials?: readonly CredentialSecret[];
  /** Seconds podman waits after the deadline before killing (its --timeout is deadline + this). Default DEFAULT_DEADLINE_GRACE_SECONDS (30). */
  deadlineGraceSeconds?: number;
  log?: Logger;
  /** Called when a container's output has ended (it exited): the loop reconciles the run at once instead of waiting for a poll. */
  onOutputEnd?: (run: RunIdentity) => void;
}

interface Follower {
  /** The CLI follower's stderr tail; undefined when conmon keeps the output (nothing to follow). */
  done: Promise<string | undefined>;
}

/** How much stderr an attempt keeps in its record. */
const STDERR_TAIL_BYTES = 4096;

type Optional = 'network' | 'log' | 'onOutputEnd' | 'api';

/** A small file's first line, never through a symlink; undefined when unreadable. */
async function readNoFollow(path: string): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    const { buffer, bytesRead } = await handle.read({ buffer: Buffer.alloc(512), position: 0 });
    return buffer.subarray(0, bytesRead).toString('utf8').split('\n')[0]?.trim();
  } catch {
    return undefined;
  } finally {
    await handle?.close();
  }
}

/** Why: the real AgentRunner, the only code that starts agent containers. */
export class PodmanAgentRunner implements AgentRunner {
  readonly #o: Required<Omit<PodmanAgentRunnerOptions, Optional>> & Pick<PodmanAgentRunnerOptions, Optional>;
  readonly #followers = new Map<string, Follower>();
  /** Containers whose end we expect to hear of from the event stream, by name. */
  readonly #watched = new Map<string, RunIdentity>();

  constructor(options: PodmanAgentRunnerOptions) {
    this.#o = {
      defaultImage: DEFAULT_AGENT_IMAGE,
      allowedVolumes: [],
      allowedImages: [],
      defaultMemory: DEFAULT_MEMORY,
      defaultCpus: DEFAULT_CPUS,
      pidsLimit: DEFAULT_PIDS_LIMIT,
      user: DEFAULT_USER,
      env: {},
      credentials: [],
      deadlineGraceSeconds: DEFAULT_DEADLINE_GRACE_SECONDS,
      ...options,
    };
  }

  /** The container spec for a request (run-spec.ts): pure apart from validating volumes against the real filesystem. */
  prepare(request: StartRequest, sessionPath: string): Promise<PodmanRunSpec> {
    return prepareRunSpec(this.#o, request, sessionPath);
  }

  /** What inspect, stop, remove and the lookups go through: the REST client when there is one. */
  get #engine(): Pick<PodmanClient, 'inspect' | 'stop' | 'remove' | 'listByLabel' | 'imageExists' | 'secretExists'> {
    return this.#o.api ?? this.#o.podman;
  }

  /**
   * The reconciler calls this only after it saw no container of this name, and reconciles of one
   * run never overlap, so there is no second look before the start (one podman call saved on
   * every start). A start that fails anyway is looked at once: a container that never started is
   * removed, one that runs (a race with another process) is adopted.
   */
  async start(request: StartRequest): Promise<void> {
    // A retried attempt whose first attempt already wrote the session (a fork included) resumes
    // that session itself: `--session-id` of an existing session is refused by the CLI.
    let effective = request;
    if (request.attempt > 1 && (await this.#o.sessions.hasTranscript(request.sessionId))) {
      const { forkFrom: _forkFrom, ...rest } = request;
      effective = { ...rest, resume: true };
    }
    // Validate everything first: a refused spec leaves nothing behind, not even a session directory.
    const spec = await this.prepare(effective, this.#o.sessions.pathOf(request.sessionId));
    if (!(await this.#engine.imageExists(spec.image))) throw imageNotFound(spec.image);
    for (const [target, secret] of Object.entries(request.spec.podman?.secretsEnv ?? {})) {
      if (!(await this.#engine.secretExists(secret))) {
        throw new TerminalError(Reasons.SecretNotFound, `podman secret ${secret} (podman.secretsEnv.${target}) does not exist; create it with 'podman secret create' or POST /secrets`);
      }
    }
    if (effective.forkFrom !== undefined && !(await this.#o.sessions.fork(effective.forkFrom, request.sessionId))) {
      throw new TerminalError(Reasons.InvalidSpec, `session ${effective.forkFrom} does not exist here; it cannot be forked`);
    }
    const sessionPath = await this.#o.sessions.ensure(request.sessionId);
    const { run, attempt, containerName } = request;
    if (hasInitHooks(request.spec.podman?.lifecycle)) await this.#takeInitLock(sessionPath, containerName);
    let outcome;
    if (this.#o.api === undefined) {
      outcome = await launchViaCli(this.#o.podman, spec);
    } else {
      await this.#o.logs.ensureRunDir(run);
      outcome = await launchViaApi(this.#o.api, spec, this.#o.logs.k8sPath(run, attempt));
      if (outcome === 'started') this.#conmonLogged(run, containerName);
    }
    if (outcome === 'adopted') this.#o.log?.info({ container: containerName }, 'adopting existing container');
    this.follow(run, attempt, containerName);
  }

  /**
   * The once-per-session hooks of a session run in one container at a time: before a start that
   * may run them (the session has no marker yet), the session's lock file names this container.
   * A lock held by another container that still runs makes the start wait (TransientError: the
   * loop retries); one whose container is gone (it failed, or was killed mid-hook) is taken over.
   * The launcher removes the lock once it wrote the marker (runner/lifecycle.ts). The session
   * directory is the container's HOME, so nothing in it is followed as a symlink.
   */
  async #takeInitLock(sessionPath: string, containerName: string): Promise<void> {
    if (await lstat(join(sessionPath, SESSION_MARKER)).then(() => true, () => false)) return;
    const lock = join(sessionPath, SESSION_INIT_LOCK);
    for (let tries = 0; tries < 3; tries += 1) {
      try {
        await writeFile(lock, `${containerName}\n`, { flag: 'wx', mode: 0o644 });
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await readNoFollow(lock);
      if (holder !== undefined && holder !== containerName && (await this.#engine.inspect(holder))?.running === true) {
        throw new TransientError(`session initialization in progress: container ${holder} is running this session's onCreateCommand/postCreate hooks`, 5_000);
      }
      await unlink(lock).catch(() => undefined); // stale (its container ended) or ours: taken over
    }
    throw new TransientError('session initialization in progress: the session lock keeps changing hands', 5_000);
  }

  async inspect(containerName: string): Promise<ObservedContainer | undefined> {
    const state = await this.#engine.inspect(containerName);
    if (state === undefined) return undefined;
    // `created` but not running: podman made it but never started it (a failed start, or a
    // controller killed between create and start). It will never run: treat it as ended.
    const finished = state.status === 'exited' || state.status === 'stopped' || (state.status === 'created' && !state.running);
    return {
      name: containerName,
      running: state.running,
      finished,
      ...compact({ exitCode: state.exitCode }),
      ...compact({ oomKilled: state.oomKilled }),
      ...compact({ startedAt: state.startedAt }),
      ...compact({ finishedAt: state.finishedAt }),
    };
  }

  /**
   * Makes sure the container's end is noticed and its output kept: nothing to do when conmon
   * writes the attempt's k8s file (the event stream wakes the run); else a `podman logs -f`
   * follower, as on the CLI path.
   */
  follow(run: RunIdentity, attempt: number, containerName: string): void {
    if (this.#followers.has(containerName)) return;
    const follower: Follower = {
      done: this.#o.logs.hasK8sLog(run, attempt).then((conmonLogs) => {
        if (conmonLogs) {
          this.#watched.set(containerName, run);
          return undefined;
        }
        return this.#persist(run, attempt, containerName);
      }),
    };
    this.#followers.set(containerName, follower);
    follower.done.then(
      (tail) => {
        if (tail !== undefined) this.#o.onOutputEnd?.(run);
      },
      (err: unknown) => {
        this.#o.log?.warn({ err, container: containerName }, 'log follower failed');
        this.#o.onOutputEnd?.(run);
      },
    );
  }

  /** The event stream saw one of our containers end: the run is reconciled at once. */
  containerDied(event: DiedEvent): void {
    const run = this.#watched.get(event.name) ?? runOfLabels(event.labels);
    if (run !== undefined) this.#o.onOutputEnd?.(run);
  }

  /** The event stream was down for a while: every watched run is looked at now (a died event may be lost). */
  eventsResumed(): void {
    for (const run of this.#watched.values()) this.#o.onOutputEnd?.(run);
  }

  #conmonLogged(run: RunIdentity, containerName: string): void {
    this.#watched.set(containerName, run);
    this.#followers.set(containerName, { done: Promise.resolve(undefined) });
  }

  async #persist(run: RunIdentity, attempt: number, containerName: string): Promise<string> {
    const sink = await this.#o.logs.openForAppend(run, attempt);
    let seen = 0;
    const handle = this.#o.podman.logs(containerName, { follow: true });
    try {
      for await (const line of handle.lines) {
        seen += 1;
        // Scrubbed before it is kept: every reader (API outputs, streams, `stromboli logs`) gets the clean line.
        if (seen > sink.existingLines) sink.append(scrub(line));
      }
      const result = await handle.done;
      const stderrTail = scrub(tail(result.stderr, STDERR_TAIL_BYTES));
      await this.#o.logs.writeStderr(run, attempt, stderrTail);
      return stderrTail;
    } finally {
      await sink.close();
    }
  }

  async collect(run: RunIdentity, attempt: number, containerName: string): Promise<AttemptRecord> {
    this.follow(run, attempt, containerName);
    const follower = this.#followers.get(containerName);
    let stderrTail: string | undefined;
    try {
      stderrTail = await follower?.done;
    } catch {
      stderrTail = await this.#o.logs.readStderr(run, attempt);
    } finally {
      this.#followers.delete(containerName);
      this.#watched.delete(containerName);
    }
    // conmon's file is complete once podman reports the exit: read it whole, export the jsonl.
    const k8s = await this.#o.logs.readK8s(run, attempt);
    if (k8s !== undefined) {
      const stderr = tail(k8s.stderr.join('\n'), STDERR_TAIL_BYTES);
      await this.#o.logs.exportTranscript(run, attempt, k8s.stdout, stderr);
      await this.#o.logs.scrubK8s(run, attempt);
      return { summary: summarizeTranscript(k8s.stdout.join('\n')), stderrTail: stderr, logPath: this.logPath(run, attempt) };
    }
    const text = await this.#o.logs.read(run, attempt);
    return { summary: summarizeTranscript(text), stderrTail: stderrTail ?? '', logPath: this.logPath(run, attempt) };
  }

  async stop(containerName: string, graceSeconds: number): Promise<void> {
    await this.#engine.stop(containerName, graceSeconds);
  }

  async remove(containerName: string): Promise<void> {
    this.#followers.delete(containerName);
    this.#watched.delete(containerName);
    await this.#engine.remove(containerName, { force: true });
  }

  async listManaged(): Promise<ManagedContainer[]> {
    const found = await this.#engine.listByLabel({ [Labels.managed]: 'true', [Labels.owner]: this.#o.owner });
    return found.map((c) => ({ name: c.name, running: c.running, labels: c.labels }));
  }

  async retainLogs(run: RunIdentity, deleteAfter: number): Promise<void> {
    await this.#o.logs.retainUntil(run, deleteAfter);
  }

  logPath(run: RunIdentity, attempt: number): string {
    return this.#o.logs.stdoutPath(run, attempt);
  }
}

// The run a container belongs to, from its labels (a container this process never followed).
function runOfLabels(labels: Readonly<Record<string, string>>): RunIdentity | undefined {
  const namespace = labels[Labels.namespace];
  const name = labels[Labels.name];
  const uid = labels[Labels.uid];
  return namespace === undefined || name === undefined || uid === undefined ? undefined : { namespace, name, uid };
}

function tail(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  return Buffer.from(text, 'utf8').subarray(-maxBytes).toString('utf8');
}
