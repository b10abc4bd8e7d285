// The Executor seam: every shell command of the project goes through it (execa lives in one
// adapter, execa-executor.ts; fake-executor.ts is the scripted fake for unit tests).

export interface ExecOptions {
  /** Aborts the command (the process gets SIGTERM, then SIGKILL after `forceKillAfterMs`). */
  signal?: AbortSignal;
  /** Kills the command after this many ms; default: no limit. */
  timeoutMs?: number;
  /** Standard input; default: none (stdin is /dev/null). */
  input?: string;
  /** Extra environment variables; the process inherits the rest. Never put a secret here unless it is the value of a file-backed secret create. */
  env?: Record<string, string>;
  cwd?: string;
  /** Argument positions to print as *** in errors and logs. */
  redact?: readonly number[];
}

export interface ExecResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  /** Set when the process was ended by a signal. */
  signal?: string | undefined;
  timedOut: boolean;
  /** True when the command was aborted through `signal`. */
  aborted: boolean;
}

export interface StreamHandle {
  /** Lines of stdout, as they arrive, without the trailing newline. */
  lines: AsyncIterable<string>;
  /** Resolves when the process ends (never rejects for a non-zero exit). */
  done: Promise<ExecResult>;
  /** The process id, when a real process was started (not in fakes); for operators and tests. */
  pid?: number | undefined;
}

/** Runs commands. Never throws for a non-zero exit: callers decide from ExecResult. */
export interface Executor {
  run(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  stream(argv: readonly string[], options?: ExecOptions): StreamHandle;
}

/** argv with the positions named in `redact` replaced, for errors and logs. */
export function redactArgv(argv: readonly string[], redact: readonly number[] = []): string[] {
  return argv.map((arg, i) => (redact.includes(i) ? '***' : arg));
}
