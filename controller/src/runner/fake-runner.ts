// FakeAgentRunner: in-memory containers with scriptable output and endings, for the reconciler's
// unit tests and the API's (which run the real reconciler over it). It behaves like the real runner
// where the reconciler can tell: idempotent start, adoption by name, refusals before anything is
// created, stdout persisted as it is printed (so a log reader can follow it), logs kept after
// remove, and the owner told when a container's output has ended.
import { TerminalError } from '../../../contract/errors.ts';
import { Labels, containerLabels } from './names.ts';
import type { RunIdentity } from './names.ts';
import { summarizeTranscript } from './stream-json.ts';
import type { AgentRunner, AttemptRecord, ManagedContainer, ObservedContainer, StartRequest } from './types.ts';
import { compact } from '../../../contract/compact.ts';

/** How a fake container ends: its exit code, its last stdout lines (stream-json) and stderr. */
export interface FakeEnding {
  exitCode: number;
  /** Printed as it ends, after what it printed while running. Default none. */
  stdout?: string[];
  stderr?: string;
  oomKilled?: boolean;
  /** How long it ran: finishedAt is startedAt plus this (e.g. up to its deadline). Default: it ends now. */
  runtimeMs?: number;
}

/** A container that keeps running after start, until finish() or stop(), having printed `stdout`. */
export interface FakeRunning {
  running: true;
  stdout?: string[];
}

/**
 * Decides a started container's fate: an ending (it exits at once), FakeRunning or undefined (it
 * keeps running). A script that throws refuses the start before any container exists, as the real
 * runner refuses a volume outside the allowlist (throw a TerminalError for that).
 */
export type FakeScript = (request: StartRequest) => FakeEnding | FakeRunning | undefined;

export interface FakeAgentRunnerOptions {
  /** Default: every run succeeds at once with successTranscript(`echo: <prompt>`). */
  script?: FakeScript;
  /** Injectable clock (epoch ms). Default Date.now. */
  now?: () => number;
  /** Called when a container's output has ended (it exited or was stopped), as PodmanAgentRunner's onOutputEnd. */
  onOutputEnd?: (run: RunIdentity) => void;
}

interface FakeContainer {
  request: StartRequest;
  labels: Record<string, string>;
  running: boolean;
  ending?: FakeEnding;
  startedAt: string;
  finishedAt?: string;
}

/** A successful stream-json transcript, as the CLI prints it. */
export function successTranscript(sessionId: string, text: string, extra: Record<string, unknown> = {}): string[] {
  return [
    JSON.stringify({ type: 'system', subtype: 'init', session_id: sessionId, model: 'fake-model' }),
    JSON.stringify({ type: 'assistant', message: { content: [{ type: 'text', text }] }, session_id: sessionId }),
    JSON.stringify({
      type: 'result',
      subtype: 'success',
      is_error: false,
      result: text,
      session_id: sessionId,
      total_cost_usd: 0.01,
      num_turns: 1,
      duration_ms: 5,
      usage: { input_tokens: 3, output_tokens: 4 },
      ...extra,
    }),
  ];
}

export class FakeAgentRunner implements AgentRunner {
  readonly containers = new Map<string, FakeContainer>();
  readonly logs = new Map<string, string[]>();
  /** Every start request, in order (including adoptions, flagged). */
  readonly starts: Array<{ request: StartRequest; adopted: boolean }> = [];
  script: FakeScript;
  /** Images the fake pretends are missing. */
  missingImages = new Set<string>();
  /** When set, start() fails with it (a podman failure that is worth retrying). */
  startError: Error | undefined;
  now: () => number;
  readonly #onOutputEnd: ((run: RunIdentity) => void) | undefined;

  constructor(options: FakeAgentRunnerOptions = {}) {
    this.script = options.script ?? ((r) => ({ exitCode: 0, stdout: successTranscript(r.sessionId, `echo: ${r.spec.prompt}`) }));
    this.now = options.now ?? Date.now;
    this.#onOutputEnd = options.onOutputEnd;
  }

  async start(request: StartRequest): Promise<void> {
    if (this.containers.has(request.containerName)) {
      this.starts.push({ request, adopted: true });
      return;
    }
    if (this.startError !== undefined) throw this.startError;
    const image = request.spec.podman?.image ?? 'default';
    if (this.missingImages.has(image)) throw new TerminalError('ImageNotFound', `image ${image} is not present`, { code: 'IMAGE_NOT_FOUND' });
    const fate = this.script(request);
    this.starts.push({ request, adopted: false });
    const container: FakeContainer = {
      request,
      labels: containerLabels(request.run, request.attempt, request.sessionId, 'fake'),
      running: true,
      startedAt: new Date(this.now()).toISOString(),
    };
    this.containers.set(request.containerName, container);
    if (fate === undefined) return;
    if ('running' in fate) this.print(request.containerName, ...(fate.stdout ?? []));
    else this.finish(request.containerName, fate);
  }

  /** A running container prints stdout lines: persisted to its attempt's log at once. */
  print(name: string, ...lines: string[]): void {
    const c = this.containers.get(name);
    if (c === undefined || !c.running) return;
    const path = this.logPath(c.request.run, c.request.attempt);
    this.logs.set(path, [...(this.logs.get(path) ?? []), ...lines]);
  }

  /** Ends a running fake container now (or after `ending.runtimeMs` of running). */
  finish(name: string, ending: FakeEnding): void {
    const c = this.containers.get(name);
    if (c === undefined || !c.running) return;
    this.print(name, ...(ending.stdout ?? []));
    c.running = false;
    c.ending = ending;
    c.finishedAt = new Date(ending.runtimeMs === undefined ? this.now() : Date.parse(c.startedAt) + ending.runtimeMs).toISOString();
    this.#onOutputEnd?.(c.request.run);
  }

  /** The stdout lines an attempt's container printed so far (its persisted log). */
  output(run: RunIdentity, attempt: number): string[] {
    return [...(this.logs.get(this.logPath(run, attempt)) ?? [])];
  }

  async inspect(name: string): Promise<ObservedContainer | undefined> {
    const c = this.containers.get(name);
    if (c === undefined) return undefined;
    return {
      name,
      running: c.running,
      finished: !c.running,
      ...(c.ending === undefined ? {} : { exitCode: c.ending.exitCode }),
      ...(c.ending?.oomKilled === undefined ? {} : { oomKilled: c.ending.oomKilled }),
      startedAt: c.startedAt,
      ...compact({ finishedAt: c.finishedAt }),
    };
  }

  follow(): void {}

  async collect(run: RunIdentity, attempt: number, name: string): Promise<AttemptRecord> {
    const c = this.containers.get(name);
    return { summary: summarizeTranscript(this.output(run, attempt).join('\n')), stderrTail: c?.ending?.stderr ?? '', logPath: this.logPath(run, attempt) };
  }

  async stop(name: string): Promise<void> {
    const c = this.containers.get(name);
    if (c?.running === true) this.finish(name, { exitCode: 143 });
  }

  async remove(name: string): Promise<void> {
    this.containers.delete(name);
  }

  async listManaged(): Promise<ManagedContainer[]> {
    return [...this.containers.entries()].map(([name, c]) => ({ name, running: c.running, labels: c.labels }));
  }

  /** Retention asked for deleted runs' logs, by uid. */
  readonly retention = new Map<string, number>();

  async retainLogs(run: RunIdentity, deleteAfter: number): Promise<void> {
    this.retention.set(run.uid, deleteAfter);
  }

  logPath(run: RunIdentity, attempt: number): string {
    return `fake://${run.namespace}/${run.name}/${run.uid}/attempt-${attempt}`;
  }

  /** Containers currently running. */
  runningCount(): number {
    return [...this.containers.values()].filter((c) => c.running).length;
  }

  /** The uid label of a container, for tests. */
  uidOf(name: string): string | undefined {
    return this.containers.get(name)?.labels[Labels.uid];
  }
}
