// The production Executor: the only module of the project that imports execa (STYLE.md §2).
// It never throws for a failed command (execa's reject:false): every outcome, including a
// binary that cannot be spawned, a timeout and an abort, comes back as an ExecResult.

import { execa } from 'execa';
import type { ExecOptions, ExecResult, Executor, StreamHandle } from './executor.ts';
import { compact } from '../../../contract/compact.ts';

/** Exit code reported when the binary does not exist (ENOENT), as a shell reports it. */
export const EXIT_COMMAND_NOT_FOUND = 127;
/** Exit code reported when the binary exists but cannot be executed (EACCES), as a shell reports it. */
export const EXIT_COMMAND_NOT_EXECUTABLE = 126;

/** How ExecaExecutor ends processes that overrun; one object, each default documented. */
export interface ExecaExecutorOptions {
  /**
   * After a timeout or an abort the process gets SIGTERM; if it is still alive this many ms
   * later it gets SIGKILL. Default: 5000.
   */
  forceKillAfterMs?: number;
}

/** Default for ExecaExecutorOptions.forceKillAfterMs. */
export const DEFAULT_FORCE_KILL_AFTER_MS = 5000;

/** How much of the end of stderr a stream keeps for `done` (a long `logs -f` can write a lot). */
export const STREAM_STDERR_MAX_BYTES = 64 * 1024;

// The subset of execa's result (a Result, or an ExecaError with reject:false) that we read.
interface ExecaOutcome {
  exitCode?: number | undefined;
  signal?: string | undefined;
  timedOut: boolean;
  isCanceled: boolean;
  stdout?: unknown;
  stderr?: unknown;
  code?: unknown;
}

/** Runs real commands with execa; no shell is ever involved, argv goes to the kernel as is. */
export class ExecaExecutor implements Executor {
  readonly #forceKillAfterMs: number;

  constructor(options: ExecaExecutorOptions = {}) {
    const forceKillAfterMs = options.forceKillAfterMs ?? DEFAULT_FORCE_KILL_AFTER_MS;
    if (!Number.isInteger(forceKillAfterMs) || forceKillAfterMs < 0) {
      throw new TypeError(`forceKillAfterMs must be a non-negative integer, got ${String(forceKillAfterMs)} (${typeof forceKillAfterMs})`);
    }
    this.#forceKillAfterMs = forceKillAfterMs;
  }

  async run(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const [file, ...args] = splitArgv(argv);
    const outcome = await execa(file, args, { ...this.#baseOptions(options), buffer: true });
    return toExecResult(outcome, file);
  }

  /**
   * Nothing is buffered whole: a `podman logs -f` may run for hours. stdout lines go only to
   * `lines` (so `done.stdout` is ''), and `done.stderr` keeps the last STREAM_STDERR_MAX_BYTES.
   * `lines` is single-use and must be consumed, or the process blocks once the pipe is full.
   */
  stream(argv: readonly string[], options: ExecOptions = {}): StreamHandle {
    const [file, ...args] = splitArgv(argv);
    const subprocess = execa(file, args, { ...this.#baseOptions(options), buffer: false });
    const stderr = new ByteTail(STREAM_STDERR_MAX_BYTES);
    subprocess.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    // Created now, not on first next(): the listener is attached at once, so no early line is lost.
    const iterator = subprocess.iterable()[Symbol.asyncIterator]();
    const done = subprocess.then((outcome) => toExecResult({ ...outcome, stderr: stderr.text() }, file));
    return { lines: iterateLines(iterator, () => subprocess.kill()), done, pid: subprocess.pid };
  }

  #baseOptions(options: ExecOptions) {
    validateTimeout(options.timeoutMs);
    return {
      reject: false,
      shell: false,
      stripFinalNewline: true,
      forceKillAfterDelay: this.#forceKillAfterMs,
      ...compact({ timeout: options.timeoutMs }),
      ...compact({ cancelSignal: options.signal }),
      ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
      ...(options.env === undefined ? {} : { env: options.env, extendEnv: true }),
      ...compact({ cwd: options.cwd }),
    } as const;
  }
}

// One-shot iterable over the subprocess' stdout lines. When the consumer stops early
// (break/return), the process is killed first: otherwise execa's own cleanup would wait for
// a `logs -f` that never ends.
async function* iterateLines(iterator: AsyncIterator<string>, kill: () => void): AsyncGenerator<string, void, undefined> {
  let finished = false;
  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) {
        finished = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!finished) {
      kill();
      await iterator.return?.();
    }
  }
}

function splitArgv(argv: readonly string[]): [string, ...string[]] {
  const [file, ...args] = argv;
  if (file === undefined || file === '') {
    throw new TypeError('argv must start with the program to run, got an empty argv');
  }
  return [file, ...args];
}

function validateTimeout(timeoutMs: number | undefined): void {
  if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs <= 0)) {
    throw new TypeError(`timeoutMs must be a positive number, got ${String(timeoutMs)} (${typeof timeoutMs})`);
  }
}

function toExecResult(outcome: ExecaOutcome, file: string): ExecResult {
  const spawnFailed = outcome.exitCode === undefined && outcome.signal === undefined && !outcome.timedOut && !outcome.isCanceled;
  const spawnCode = typeof outcome.code === 'string' ? outcome.code : 'UNKNOWN';
  return {
    exitCode: spawnFailed ? spawnExitCode(spawnCode) : outcome.exitCode,
    stdout: textOf(outcome.stdout),
    stderr: spawnFailed ? `${spawnCode}: cannot execute ${file}` : textOf(outcome.stderr),
    signal: outcome.signal,
    timedOut: outcome.timedOut,
    aborted: outcome.isCanceled,
  };
}

// A process that never started has no exit code; report it the way a shell would, so that
// callers decide from exit codes only (127: not found, 126: not executable).
function spawnExitCode(code: string): number | undefined {
  if (code === 'ENOENT') return EXIT_COMMAND_NOT_FOUND;
  if (code === 'EACCES' || code === 'EPERM' || code === 'ENOEXEC') return EXIT_COMMAND_NOT_EXECUTABLE;
  return undefined;
}

// Keeps the last maxBytes bytes written, decoded at the end without a split first character.
class ByteTail {
  readonly #maxBytes: number;
  #chunks: Buffer[] = [];
  #size = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    if (this.#size > 2 * this.#maxBytes) this.#compact();
  }

  text(): string {
    this.#compact();
    const bytes = Buffer.concat(this.#chunks);
    let start = 0;
    // Skip UTF-8 continuation bytes (10xxxxxx) left by the cut.
    while (start < bytes.length && ((bytes[start] ?? 0) & 0xc0) === 0x80) start += 1;
    return bytes.subarray(start).toString('utf8').replace(/\r?\n$/, '');
  }

  #compact(): void {
    const all = Buffer.concat(this.#chunks);
    const kept = all.length > this.#maxBytes ? all.subarray(all.length - this.#maxBytes) : all;
    this.#chunks = [kept];
    this.#size = kept.length;
  }
}

function textOf(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
