// FakeAgentRunner: in-memory containers with scriptable endings, for reconciler unit tests and
// the Kubernetes suite (which tests the API server, not podman). It behaves like the real runner
// where the reconciler can tell: idempotent start, adoption by name, logs kept after remove.
import { TerminalError } from '../../../contract/errors.ts';
import { Labels, containerLabels } from './names.ts';
import type { RunIdentity } from './names.ts';
import { summarizeTranscript } from './stream-json.ts';
import type { AgentRunner, AttemptRecord, ManagedContainer, ObservedContainer, StartRequest } from './types.ts';

/** How a fake container ends: its exit code, stdout lines (stream-json) and stderr. */
export interface FakeEnding {
  exitCode: number;
  stdout?: string[];
  stderr?: string;
  oomKilled?: boolean;
}

/** Decides a started container's fate; return undefined to keep it running until finish() is called. */
export type FakeScript = (request: StartRequest) => FakeEnding | undefined;

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

  constructor(options: { script?: FakeScript; now?: () => number } = {}) {
    this.script = options.script ?? ((r) => ({ exitCode: 0, stdout: successTranscript(r.sessionId, `echo: ${r.spec.prompt}`) }));
    this.now = options.now ?? Date.now;
  }

  async start(request: StartRequest): Promise<void> {
    if (this.containers.has(request.containerName)) {
      this.starts.push({ request, adopted: true });
      return;
    }
    if (this.startError !== undefined) throw this.startError;
    const image = request.spec.podman?.image ?? 'default';
    if (this.missingImages.has(image)) throw new TerminalError('ImageNotFound', `image ${image} is not present`, { code: 'IMAGE_NOT_FOUND' });
    this.starts.push({ request, adopted: false });
    const container: FakeContainer = {
      request,
      labels: containerLabels(request.run, request.attempt, request.sessionId, 'fake'),
      running: true,
      startedAt: new Date(this.now()).toISOString(),
    };
    this.containers.set(request.containerName, container);
    const ending = this.script(request);
    if (ending !== undefined) this.finish(request.containerName, ending);
  }

  /** Ends a running fake container now. */
  finish(name: string, ending: FakeEnding): void {
    const c = this.containers.get(name);
    if (c === undefined || !c.running) return;
    c.running = false;
    c.ending = ending;
    c.finishedAt = new Date(this.now()).toISOString();
    this.logs.set(this.logPath(c.request.run, c.request.attempt), ending.stdout ?? []);
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
      ...(c.finishedAt === undefined ? {} : { finishedAt: c.finishedAt }),
    };
  }

  follow(): void {}

  async collect(run: RunIdentity, attempt: number, name: string): Promise<AttemptRecord> {
    const c = this.containers.get(name);
    const lines = this.logs.get(this.logPath(run, attempt)) ?? [];
    return { summary: summarizeTranscript(lines.join('\n')), stderrTail: c?.ending?.stderr ?? '', logPath: this.logPath(run, attempt) };
  }

  async stop(name: string): Promise<void> {
    const c = this.containers.get(name);
    if (c?.running === true) this.finish(name, { exitCode: 143, stdout: this.logs.get(this.logPath(c.request.run, c.request.attempt)) ?? [] });
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
