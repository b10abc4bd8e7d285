// AgentRunner over podman: one prepare step turns a StartRequest into a PodmanRunSpec (safe
// defaults, allowlisted volumes, the session HOME, secrets by name only), then the podman client
// runs it detached. Output is persisted by one log follower per container.
import { TerminalError } from '../../../contract/errors.ts';
import { scrub } from '../../../contract/redact.ts';
import { CommandError } from '../exec/command-error.ts';
import { Reasons } from '../../../contract/apis/v1alpha1/index.ts';
import { buildClaudeArgs, claudeEnv } from '../claude/args.ts';
import { DEFAULT_PIDS_LIMIT, DEFAULT_USER, buildPodmanRunArgs } from '../podman/args.ts';
import type { PodmanRunSpec } from '../podman/args.ts';
import type { PodmanClient } from '../podman/client.ts';
import type { Logger } from '../reconcile/types.ts';
import { validateImage, validateVolumes, validateWorkdir } from './workspace.ts';
import type { LogStore } from './log-store.ts';
import { Labels, containerLabels } from './names.ts';
import type { RunIdentity } from './names.ts';
import type { SessionDirs } from './session.ts';
import { summarizeTranscript } from './stream-json.ts';
import type { AgentRunner, AttemptRecord, ManagedContainer, ObservedContainer, StartRequest } from './types.ts';
import { compact } from '../../../contract/compact.ts';

/** The image of runs that name none: the agent image `stromboli images build` makes. */
export const DEFAULT_AGENT_IMAGE = 'localhost/stromboli/agent:latest';
/** Memory limit of a container whose spec sets none. */
export const DEFAULT_MEMORY = '512m';
/** CPU limit of a container whose spec sets none. */
export const DEFAULT_CPUS = '1';
/** Seconds podman waits past the deadline before it kills (its --timeout is deadline + this). */
export const DEFAULT_DEADLINE_GRACE_SECONDS = 30;

/** The container HOME, where the session directory is mounted (as Stromboli does). */
export const CONTAINER_HOME = '/home/user';

/** The working directory the agent images create (WORKDIR). */
export const IMAGE_WORKDIR = '/workspace';

/** Whether `path` is one of `roots` or below one (podman only enters existing directories). */
function isProvided(path: string, roots: readonly string[]): boolean {
  return roots.some((root) => path === root || path.startsWith(root.endsWith('/') ? root : `${root}/`));
}

/** A podman secret given to every container as an environment variable (credentials). */
export interface CredentialSecret {
  secret: string;
  /** An environment variable name (type env) or an absolute container path (type mount). */
  target: string;
  /** Default 'env'. */
  type?: 'env' | 'mount';
}

export interface PodmanAgentRunnerOptions {
  podman: PodmanClient;
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
  done: Promise<string>;
}

/** How much stderr an attempt keeps in its record. */
const STDERR_TAIL_BYTES = 4096;

export class PodmanAgentRunner implements AgentRunner {
  readonly #o: Required<Omit<PodmanAgentRunnerOptions, 'network' | 'log' | 'onOutputEnd'>> & Pick<PodmanAgentRunnerOptions, 'network' | 'log' | 'onOutputEnd'>;
  readonly #followers = new Map<string, Follower>();

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

  /** The argv-ready spec for a request: pure apart from validating volumes against the real filesystem. */
  async prepare(request: StartRequest, sessionPath: string): Promise<PodmanRunSpec> {
    const { spec } = request;
    const volumes = await validateVolumes(spec.podman?.volumes ?? [], { allowedPaths: this.#o.allowedVolumes });
    const workdir = validateWorkdir(spec.workdir);
    if (workdir !== undefined && workdir !== IMAGE_WORKDIR && !isProvided(workdir, [CONTAINER_HOME, ...volumes.map((v) => v.target)])) {
      throw new TerminalError(
        Reasons.InvalidWorkdir,
        `workdir validation failed: ${workdir} must be ${IMAGE_WORKDIR} itself, or inside ${CONTAINER_HOME} or a mounted volume (podman cannot create a missing directory)`,
      );
    }
    const image = validateImage(spec.podman?.image ?? this.#o.defaultImage, this.#o.allowedImages);
    const options = spec.claude ?? {};
    if (options.inputFormat === 'stream-json' || options.replayUserMessages === true) {
      throw new TerminalError(Reasons.InvalidSpec, 'claude.inputFormat stream-json and replayUserMessages need a prompt on stdin; an AgentRun passes its prompt as an argument');
    }
    const fork = request.forkFrom !== undefined;
    const command = buildClaudeArgs({
      prompt: spec.prompt,
      // A fork resumes the session it branches from and names the new one.
      sessionId: fork ? request.forkFrom : request.sessionId,
      resume: fork || request.resume,
      ...(fork ? { forkSessionId: request.sessionId } : {}),
      ...(spec.session?.continue === true ? { continue: true } : {}),
      ...(fork || spec.session?.fork === true ? { fork: true } : {}),
      options,
      streamJson: true,
    });
    const secrets = [
      ...this.#o.credentials.map((c) => ({ name: c.secret, target: c.target, ...(c.type === 'mount' ? { type: 'mount' as const } : {}) })),
      ...Object.entries(spec.podman?.secretsEnv ?? {}).map(([target, name]) => ({ name, target })),
    ];
    return {
      name: request.containerName,
      image,
      command,
      labels: containerLabels(request.run, request.attempt, request.sessionId, this.#o.owner),
      env: { ...this.#o.env, ...claudeEnv(options), HOME: CONTAINER_HOME },
      secrets,
      mounts: [{ source: sessionPath, target: CONTAINER_HOME }, ...volumes],
      user: this.#o.user,
      ...compact({ workdir }),
      memory: spec.podman?.memory ?? this.#o.defaultMemory,
      cpus: spec.podman?.cpus ?? this.#o.defaultCpus,
      ...(spec.podman?.cpuShares === undefined ? {} : { cpuShares: spec.podman.cpuShares }),
      pidsLimit: this.#o.pidsLimit,
      ...(this.#o.network === undefined ? {} : { network: this.#o.network }),
      timeoutSeconds: request.deadlineSeconds + this.#o.deadlineGraceSeconds,
      detach: true,
    };
  }

  /**
   * The reconciler calls this only after it saw no container of this name, and reconciles of one
   * run never overlap, so there is no second look before `podman run` (one podman call saved on
   * every start). A run that fails anyway is looked at once: a container that never started is
   * removed, one that runs (a race with another process) is left to be adopted.
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
    if (!(await this.#o.podman.imageExists(spec.image))) {
      throw new TerminalError(
        Reasons.ImageNotFound,
        `image ${spec.image} is not present in local storage; build it with 'stromboli images build' (no registry is pulled from)`,
        { code: 'IMAGE_NOT_FOUND' },
      );
    }
    for (const [target, secret] of Object.entries(request.spec.podman?.secretsEnv ?? {})) {
      if (!(await this.#o.podman.secretExists(secret))) {
        throw new TerminalError(Reasons.SecretNotFound, `podman secret ${secret} (podman.secretsEnv.${target}) does not exist; create it with 'podman secret create' or POST /secrets`);
      }
    }
    if (effective.forkFrom !== undefined && !(await this.#o.sessions.fork(effective.forkFrom, request.sessionId))) {
      throw new TerminalError(Reasons.InvalidSpec, `session ${effective.forkFrom} does not exist here; it cannot be forked`);
    }
    await this.#o.sessions.ensure(request.sessionId);
    let args: string[];
    try {
      args = buildPodmanRunArgs(spec);
    } catch (err) {
      // The builder refuses what would change the argv's meaning (a user secret shadowing a
      // controller variable, a value starting with '-'): retrying cannot fix that.
      if (err instanceof RangeError) throw new TerminalError(Reasons.InvalidSpec, `invalid container spec: ${err.message}`, { cause: err });
      throw err;
    }
    try {
      await this.#o.podman.run(args);
    } catch (err) {
      // A failed `podman run -d` can leave the container behind in state `created`; the next
      // attempt must not adopt a container that never ran.
      const left = await this.#o.podman.inspect(request.containerName).catch(() => undefined);
      if (left?.running === true) {
        this.#o.log?.info({ container: request.containerName }, 'adopting existing container');
        this.follow(request.run, request.attempt, request.containerName);
        return;
      }
      if (left !== undefined) await this.#o.podman.remove(request.containerName, { force: true }).catch(() => undefined);
      // podman's documented exit codes 126/127: the container's command cannot be invoked or
      // found (podman itself ran, the client checked). Starting again would fail the same way.
      if (err instanceof CommandError && (err.exitCode === 126 || err.exitCode === 127)) {
        throw new TerminalError(Reasons.StartFailed, `the container could not start its command (podman exit ${err.exitCode}): ${err.stderrTail.trim().split('\n').pop() ?? ''}`, { cause: err });
      }
      throw err;
    }
    this.follow(request.run, request.attempt, request.containerName);
  }

  async inspect(containerName: string): Promise<ObservedContainer | undefined> {
    const state = await this.#o.podman.inspect(containerName);
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

  follow(run: RunIdentity, attempt: number, containerName: string): void {
    if (this.#followers.has(containerName)) return;
    const follower: Follower = { done: this.#persist(run, attempt, containerName) };
    this.#followers.set(containerName, follower);
    follower.done.then(
      () => this.#o.onOutputEnd?.(run),
      (err: unknown) => {
        this.#o.log?.warn({ err, container: containerName }, 'log follower failed');
        this.#o.onOutputEnd?.(run);
      },
    );
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
    let stderrTail = '';
    try {
      stderrTail = (await follower?.done) ?? '';
    } catch {
      stderrTail = await this.#o.logs.readStderr(run, attempt);
    } finally {
      this.#followers.delete(containerName);
    }
    const text = await this.#o.logs.read(run, attempt);
    return { summary: summarizeTranscript(text), stderrTail, logPath: this.logPath(run, attempt) };
  }

  async stop(containerName: string, graceSeconds: number): Promise<void> {
    await this.#o.podman.stop(containerName, graceSeconds);
  }

  async remove(containerName: string): Promise<void> {
    this.#followers.delete(containerName);
    await this.#o.podman.remove(containerName, { force: true });
  }

  async listManaged(): Promise<ManagedContainer[]> {
    const found = await this.#o.podman.listByLabel({ [Labels.managed]: 'true', [Labels.owner]: this.#o.owner });
    return found.map((c) => ({ name: c.name, running: c.running, labels: c.labels }));
  }

  async retainLogs(run: RunIdentity, deleteAfter: number): Promise<void> {
    await this.#o.logs.retainUntil(run, deleteAfter);
  }

  logPath(run: RunIdentity, attempt: number): string {
    return this.#o.logs.stdoutPath(run, attempt);
  }
}

function tail(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  return Buffer.from(text, 'utf8').subarray(-maxBytes).toString('utf8');
}
