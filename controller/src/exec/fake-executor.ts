// FakeExecutor: the scripted Executor for unit tests (a fake, not a mock: it behaves, it does not
// verify). Rules map argv to canned results; every call is recorded; a command no rule matches
// fails the way a missing program does (exit 127), so a forgotten rule shows up as a failure.

import type { ExecOptions, ExecResult, Executor, StreamHandle } from './executor.ts';

/** Which argv a rule answers: the exact argv, an argv prefix, or any predicate. */
export type ArgvMatcher =
  | readonly string[]
  | { readonly prefix: readonly string[] }
  | ((argv: readonly string[]) => boolean);

/** A canned outcome; omitted fields default to a clean success (exit 0, empty output). */
export type FakeOutcome = Partial<ExecResult>;

/** What a run rule answers: a canned outcome, or a function computing one from the call. */
export type FakeRunResponse =
  | FakeOutcome
  | ((argv: readonly string[], options: ExecOptions) => FakeOutcome | Promise<FakeOutcome>);

/** What a stream rule answers. */
export interface FakeStreamResponse {
  /** stdout lines yielded by `lines`, in order; default: none. */
  lines?: readonly string[];
  /** The outcome `done` resolves with; default: a clean success. */
  result?: FakeOutcome;
  /**
   * Keep the stream open after the lines, like `podman logs -f` on a running container, until
   * options.signal aborts; `done` then resolves aborted with SIGTERM. Default: false.
   */
  untilAborted?: boolean;
}

/** Limits on a rule, for scripting sequences (first answer differs from later ones). */
export interface FakeRuleOptions {
  /** How many calls this rule answers before it is skipped; default: unlimited. */
  times?: number;
}

/** One recorded call, in call order. */
export interface FakeCall {
  kind: 'run' | 'stream';
  argv: readonly string[];
  options: ExecOptions;
  /** False when no rule matched (the call got the exit-127 answer). */
  matched: boolean;
}

interface Rule<R> {
  matcher: ArgvMatcher;
  response: R;
  remaining: number;
}

/** Exit code of a call that no rule matched (the shell's "command not found"). */
export const FAKE_UNMATCHED_EXIT_CODE = 127;

/** Scripted Executor. Rules are tried in the order they were added; the first match answers. */
export class FakeExecutor implements Executor {
  readonly #runRules: Rule<FakeRunResponse>[] = [];
  readonly #streamRules: Rule<FakeStreamResponse>[] = [];
  readonly #calls: FakeCall[] = [];

  /** Answers `run` calls matching `matcher`. Returns this, for chaining. */
  onRun(matcher: ArgvMatcher, response: FakeRunResponse = {}, options: FakeRuleOptions = {}): this {
    this.#runRules.push({ matcher, response, remaining: checkTimes(options.times) });
    return this;
  }

  /** Answers `stream` calls matching `matcher`. Returns this, for chaining. */
  onStream(matcher: ArgvMatcher, response: FakeStreamResponse = {}, options: FakeRuleOptions = {}): this {
    this.#streamRules.push({ matcher, response, remaining: checkTimes(options.times) });
    return this;
  }

  /** Every call so far, in order (a copy). */
  get calls(): readonly FakeCall[] {
    return [...this.#calls];
  }

  /** The argv of every call so far, in order. */
  get argvs(): readonly (readonly string[])[] {
    return this.#calls.map((c) => c.argv);
  }

  async run(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const rule = take(this.#runRules, argv);
    this.#record('run', argv, options, rule !== undefined);
    if (options.signal?.aborted === true) return abortedResult();
    if (rule === undefined) return unmatchedResult(argv);
    const { response } = rule;
    const outcome = typeof response === 'function' ? await response([...argv], options) : response;
    return toResult(outcome);
  }

  stream(argv: readonly string[], options: ExecOptions = {}): StreamHandle {
    const rule = take(this.#streamRules, argv);
    this.#record('stream', argv, options, rule !== undefined);
    if (rule === undefined) return { lines: yieldLines([]), done: Promise.resolve(unmatchedResult(argv)) };
    const { lines = [], result = {}, untilAborted = false } = rule.response;
    if (!untilAborted) return { lines: yieldLines(lines), done: Promise.resolve(toResult(result)) };
    const aborted = waitForAbort(options.signal);
    return { lines: yieldLines(lines, aborted), done: aborted.then(abortedResult) };
  }

  #record(kind: FakeCall['kind'], argv: readonly string[], options: ExecOptions, matched: boolean): void {
    this.#calls.push({ kind, argv: [...argv], options: { ...options }, matched });
  }
}

/** True when `matcher` answers `argv`. */
export function matchesArgv(matcher: ArgvMatcher, argv: readonly string[]): boolean {
  if (typeof matcher === 'function') return matcher(argv);
  if (isPrefixMatcher(matcher)) return matcher.prefix.every((arg, i) => argv[i] === arg);
  return matcher.length === argv.length && matcher.every((arg, i) => argv[i] === arg);
}

function isPrefixMatcher(matcher: readonly string[] | { readonly prefix: readonly string[] }): matcher is { readonly prefix: readonly string[] } {
  return !Array.isArray(matcher);
}

function take<R>(rules: Rule<R>[], argv: readonly string[]): Rule<R> | undefined {
  const rule = rules.find((r) => r.remaining > 0 && matchesArgv(r.matcher, argv));
  if (rule !== undefined) rule.remaining -= 1;
  return rule;
}

function checkTimes(times: number | undefined): number {
  if (times === undefined) return Number.POSITIVE_INFINITY;
  if (!Number.isInteger(times) || times < 1) {
    throw new TypeError(`times must be a positive integer, got ${String(times)} (${typeof times})`);
  }
  return times;
}

function toResult(outcome: FakeOutcome): ExecResult {
  return { exitCode: 0, stdout: '', stderr: '', signal: undefined, timedOut: false, aborted: false, ...outcome };
}

function unmatchedResult(argv: readonly string[]): ExecResult {
  return toResult({ exitCode: FAKE_UNMATCHED_EXIT_CODE, stderr: `fake-executor: no rule matches argv ${JSON.stringify(argv)}` });
}

function abortedResult(): ExecResult {
  return toResult({ exitCode: undefined, signal: 'SIGTERM', aborted: true });
}

function waitForAbort(signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) {
    throw new TypeError('a FakeExecutor stream rule with untilAborted needs options.signal, or it would never end');
  }
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

async function* yieldLines(lines: readonly string[], holdUntil?: Promise<void>): AsyncGenerator<string, void, undefined> {
  for (const line of lines) {
    await Promise.resolve();
    yield line;
  }
  if (holdUntil !== undefined) await holdUntil;
}
