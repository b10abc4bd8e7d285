// Test doubles for the run family's unit tests: a fake controller that plays the real one's part
// on a store (writes Running, then a terminal status with conditions, honours spec.cancel) and an
// in-memory LogReader that follows like the file-backed one (until the run is finished). Prompts
// choose the script: "[hold]" waits for finish(), "[crash]", "[fail]", "[deadline]", "[oom]".
import { conditionsFor, isTerminalPhase } from '../../../contract/apis/v1alpha1/index.ts';
import type { AgentRunStatus, Phase } from '../../../contract/apis/v1alpha1/index.ts';
import { ConflictError } from '../../../contract/errors.ts';
import type { LogReader, RunRef, RunStore, StoredRun } from '../../../contract/ports.ts';

/** A store the fake controller can write status to (MemoryStore is one). */
export interface StatusStore extends RunStore {
  updateStatus(ref: RunRef, status: AgentRunStatus, resourceVersion: string): Promise<StoredRun>;
}

/** In-memory persisted logs, keyed by run uid; followers wake on appends and on end(). */
export class FakeLogReader implements LogReader {
  readonly #lines = new Map<string, string[]>();
  readonly #ended = new Set<string>();
  readonly #waiters = new Set<() => void>();
  readonly #broken = new Set<string>();

  append(uid: string, ...lines: string[]): void {
    this.#lines.set(uid, [...(this.#lines.get(uid) ?? []), ...lines]);
    this.#wake();
  }

  /** The run is finished: followers read what is left and stop. */
  end(uid: string): void {
    this.#ended.add(uid);
    this.#wake();
  }

  /** Reading this run's log throws from now on (a disk error, a log removed underneath). */
  break(uid: string): void {
    this.#broken.add(uid);
    this.#wake();
  }

  linesOf(uid: string): string[] {
    return [...(this.#lines.get(uid) ?? [])];
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  async *lines(run: StoredRun, options: { attempt?: number; follow: boolean; fromLine?: number; signal: AbortSignal }): AsyncIterable<string> {
    const uid = run.metadata.uid;
    let next = options.fromLine ?? 0;
    for (;;) {
      if (this.#broken.has(uid)) throw new Error(`log of ${uid} is unreadable`);
      const lines = this.#lines.get(uid) ?? [];
      while (next < lines.length) {
        if (options.signal.aborted) return;
        yield lines[next] ?? '';
        next += 1;
      }
      if (!options.follow || this.#ended.has(uid) || options.signal.aborted) return;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.#waiters.delete(wake);
          options.signal.removeEventListener('abort', wake);
          resolve();
        };
        this.#waiters.add(wake);
        options.signal.addEventListener('abort', wake, { once: true });
      });
    }
  }
}

export type FakeOutcome =
  | { phase: 'Succeeded'; result?: string; structuredOutput?: unknown; usage?: AgentRunStatus['usage']; resultTruncated?: boolean }
  | { phase: 'Failed'; reason: string; message: string; result?: string; crash?: AgentRunStatus['crash']; exitCode?: number; usage?: AgentRunStatus['usage'] }
  | { phase: 'Cancelled' };

const USAGE = { inputTokens: 10, outputTokens: 5, cacheCreationInputTokens: 2, cacheReadInputTokens: 3, costUSD: 0.0012345678, numTurns: 1, model: 'claude-fake-1' };

function promptOf(run: StoredRun): string {
  const spec = run.spec;
  if (typeof spec === 'object' && spec !== null && 'prompt' in spec && typeof spec.prompt === 'string') return spec.prompt;
  return '';
}

function sessionOf(run: StoredRun): string | undefined {
  const spec = run.spec;
  if (typeof spec !== 'object' || spec === null || !('session' in spec)) return undefined;
  const session = spec.session;
  return typeof session === 'object' && session !== null && 'id' in session && typeof session.id === 'string' ? session.id : undefined;
}

function cancelRequested(run: StoredRun): boolean {
  const spec = run.spec;
  return typeof spec === 'object' && spec !== null && 'cancel' in spec && spec.cancel === true;
}

/** The scripted outcome of a prompt, or undefined for "[hold]". */
export function outcomeForPrompt(prompt: string): FakeOutcome | undefined {
  if (prompt.includes('[hold]')) return undefined;
  if (prompt.includes('[crash]')) return { phase: 'Failed', reason: 'Crashed', message: 'claude crashed (exit code 139, SIGSEGV) without a result', crash: { exitCode: 139, signal: 'SIGSEGV' }, result: 'partial answer' };
  if (prompt.includes('[deadline]')) return { phase: 'Failed', reason: 'DeadlineExceeded', message: 'the attempt exceeded its deadline of 1s; partial output is kept in the log', crash: { exitCode: 143, signal: 'SIGTERM' } };
  if (prompt.includes('[oom]')) return { phase: 'Failed', reason: 'OOMKilled', message: 'the container ran out of memory', crash: { exitCode: 137, signal: 'SIGKILL', oomKilled: true } };
  if (prompt.includes('[fail]')) return { phase: 'Failed', reason: 'MaxTurns', message: 'Reached maximum number of turns (1)', exitCode: 1, usage: USAGE };
  if (prompt.includes('[volume]')) return { phase: 'Failed', reason: 'VolumeNotAllowed', message: 'volume host path /etc is not allowed' };
  return { phase: 'Succeeded', result: `echo: ${prompt}`, usage: USAGE };
}

/** Plays the controller: Running at once, then the prompt's outcome (or finish() for held runs). */
export class FakeRunController {
  readonly #store: StatusStore;
  readonly #logs: FakeLogReader;
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;
  /** Status writes made, by run name (for assertions). */
  readonly writes: Array<{ name: string; phase: Phase }> = [];

  constructor(options: { store: StatusStore; logs: FakeLogReader }) {
    this.#store = options.store;
    this.#logs = options.logs;
  }

  start(): void {
    this.#loop = (async () => {
      for await (const event of this.#store.watch(this.#abort.signal)) {
        if (event.type === 'DELETED') continue;
        await this.#react(event.object).catch(() => undefined);
      }
    })();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  /** Ends a held run with `outcome`. */
  async finish(name: string, outcome: FakeOutcome, namespace = 'default'): Promise<StoredRun> {
    const run = await this.#store.get({ namespace, name });
    return this.#conclude(run, outcome);
  }

  async #react(run: StoredRun): Promise<void> {
    if (isTerminalPhase(run.status?.phase)) return;
    if (cancelRequested(run)) {
      await this.#conclude(run, { phase: 'Cancelled' });
      return;
    }
    if (run.status !== undefined) return;
    const sessionId = sessionOf(run);
    this.#logs.append(run.metadata.uid, JSON.stringify({ type: 'system', subtype: 'init', session_id: sessionId, model: USAGE.model }));
    const running = await this.#write(run, 'Running', 'Running', 'container is running', {
      attempt: 1,
      startTime: new Date().toISOString(),
      ...(sessionId === undefined ? {} : { sessionId }),
    });
    const outcome = outcomeForPrompt(promptOf(run));
    if (outcome !== undefined) await this.#conclude(running, outcome);
  }

  async #conclude(run: StoredRun, outcome: FakeOutcome): Promise<StoredRun> {
    const uid = run.metadata.uid;
    const fields: Partial<AgentRunStatus> = { completionTime: new Date().toISOString() };
    let reason: string = outcome.phase;
    let message = 'cancelled by spec.cancel';
    if (outcome.phase === 'Succeeded') {
      message = 'claude finished successfully';
      if (outcome.result !== undefined) {
        fields.result = outcome.result;
        this.#logs.append(uid, JSON.stringify({ type: 'assistant', message: { content: [{ type: 'text', text: outcome.result }] } }));
        this.#logs.append(uid, JSON.stringify({ type: 'result', subtype: 'success', is_error: false, result: outcome.result, structured_output: outcome.structuredOutput }));
      }
      if (outcome.resultTruncated === true) fields.resultTruncated = true;
      if (outcome.structuredOutput !== undefined) fields.structuredOutput = outcome.structuredOutput;
      if (outcome.usage !== undefined) fields.usage = outcome.usage;
      fields.exitCode = 0;
    } else if (outcome.phase === 'Failed') {
      reason = outcome.reason;
      message = outcome.message;
      if (outcome.result !== undefined) fields.result = outcome.result;
      if (outcome.crash !== undefined) fields.crash = outcome.crash;
      if (outcome.exitCode !== undefined) fields.exitCode = outcome.exitCode;
      if (outcome.usage !== undefined) fields.usage = outcome.usage;
    }
    const written = await this.#write(run, outcome.phase, reason, message, fields);
    this.#logs.end(uid);
    return written;
  }

  /** One status write, re-read and retried on conflicts (as the real reconciler does). */
  async #write(run: StoredRun, phase: Phase, reason: string, message: string, fields: Partial<AgentRunStatus>): Promise<StoredRun> {
    let current = run;
    for (;;) {
      const now = new Date().toISOString();
      const status: AgentRunStatus = {
        ...current.status,
        ...fields,
        observedGeneration: current.metadata.generation,
        phase,
        message,
        conditions: conditionsFor(current.status?.conditions, phase, reason, message, current.metadata.generation, now),
      };
      try {
        const written = await this.#store.updateStatus(current.metadata, status, current.metadata.resourceVersion);
        this.writes.push({ name: current.metadata.name, phase });
        return written;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        current = await this.#store.get(current.metadata);
        if (isTerminalPhase(current.status?.phase)) return current;
      }
    }
  }
}
