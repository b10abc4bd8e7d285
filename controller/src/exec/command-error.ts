// CommandError: for callers of the Executor that want to throw when a command failed. The
// Executor itself never throws for a non-zero exit; callers decide from ExecResult and, when
// they give up, throw this with everything needed to debug and nothing secret.

import { AppError } from '../../../contract/errors.ts';
import { redactArgv } from './executor.ts';
import type { ExecResult } from './executor.ts';
import { compact } from '../../../contract/compact.ts';

/** How much of the end of stderr a CommandError keeps. */
export const STDERR_TAIL_BYTES = 2048;

/** Longest argument copied into `details` (a prompt can be kilobytes long); `argv` keeps them whole. */
export const DETAILS_ARG_MAX_CHARS = 200;

/** What a CommandError is built from: the argv that ran and its ExecResult. */
export interface CommandErrorInit {
  /** The argv that ran; it is stored redacted, never as given. */
  argv: readonly string[];
  /** Positions of argv to print as ***; default: none (the same positions as ExecOptions.redact). */
  redact?: readonly number[];
  result: ExecResult;
  /** Constant, lowercase message; default: 'command failed'. */
  message?: string;
  /** The underlying error, if any; default: none. */
  cause?: unknown;
}

/** A command ended badly (non-zero exit, signal, timeout, abort); code COMMAND_FAILED. */
export class CommandError extends AppError {
  /** argv with the redacted positions replaced by ***. */
  readonly argv: readonly string[];
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly timedOut: boolean;
  readonly aborted: boolean;
  /** The last STDERR_TAIL_BYTES bytes of stderr, with redacted argv values replaced by ***. */
  readonly stderrTail: string;

  constructor(init: CommandErrorInit) {
    const argv = redactArgv(init.argv, init.redact);
    const { exitCode, signal, timedOut, aborted } = init.result;
    super('COMMAND_FAILED', init.message ?? 'command failed', {
      ...compact({ cause: init.cause }),
      details: { argv: argv.map(boundArg), exitCode, signal, timedOut, aborted },
    });
    this.argv = argv;
    this.exitCode = exitCode;
    this.signal = signal;
    this.timedOut = timedOut;
    this.aborted = aborted;
    // Scrub first, then cut: a value cut in half by the tail would otherwise survive.
    this.stderrTail = tailBytes(scrub(init.result.stderr, init.argv, init.redact ?? []), STDERR_TAIL_BYTES);
  }
}

/** The last `maxBytes` bytes of `text` (UTF-8), never starting in the middle of a character. */
export function tailBytes(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let start = bytes.length - maxBytes;
  // Skip UTF-8 continuation bytes (10xxxxxx) so the tail starts on a character boundary.
  while (start < bytes.length && ((bytes[start] ?? 0) & 0xc0) === 0x80) start += 1;
  return bytes.subarray(start).toString('utf8');
}

function boundArg(arg: string): string {
  return arg.length <= DETAILS_ARG_MAX_CHARS ? arg : `${arg.slice(0, DETAILS_ARG_MAX_CHARS - 1)}…`;
}

// A program may echo its arguments in its errors: hide the redacted values there too.
function scrub(text: string, argv: readonly string[], redact: readonly number[]): string {
  let out = text;
  for (const i of redact) {
    const value = argv[i];
    if (value !== undefined && value !== '') out = out.split(value).join('***');
  }
  return out;
}
