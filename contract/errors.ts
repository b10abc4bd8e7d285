// Error classes decide retries (docs/errors.md): TerminalError is never retried,
// TransientError is retried after exactly retryAfterMs, anything else backs off.

/** Stable machine-readable codes; the API maps each to an HTTP status in one exhaustive table. */
export const ErrorCodes = [
  'INVALID_SPEC',
  'VALIDATION',
  'NOT_FOUND',
  'CONFLICT',
  'ALREADY_EXISTS',
  'FORBIDDEN_PATH',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'TOO_MANY_REQUESTS',
  'UNAVAILABLE',
  'TRANSIENT',
  'COMMAND_FAILED',
  'UPSTREAM_FAILED',
  'IMAGE_NOT_FOUND',
  'TIMEOUT',
  'EXPIRED',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ErrorCodes)[number];

export interface AppErrorOptions {
  /** The underlying error, always passed when wrapping. */
  cause?: unknown;
  /** Structured, non-sensitive details safe to show a client. */
  details?: Record<string, unknown>;
}

/** Base class of every error this project raises on purpose. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details;
  }
}

/** Retrying cannot help (an invalid spec, a forbidden volume): the run ends Failed with `reason`. */
export class TerminalError extends AppError {
  /** PascalCase reason recorded on the run's Succeeded condition. */
  readonly reason: string;

  constructor(reason: string, message: string, options: AppErrorOptions & { code?: ErrorCode } = {}) {
    super(options.code ?? 'INVALID_SPEC', message, options);
    this.reason = reason;
  }
}

/** "Not yet": the loop retries after exactly `retryAfterMs`. */
export class TransientError extends AppError {
  readonly retryAfterMs: number;

  constructor(message: string, retryAfterMs: number, options: AppErrorOptions = {}) {
    super('TRANSIENT', message, options);
    this.retryAfterMs = retryAfterMs;
  }
}

/** The object does not exist (any more). */
export class NotFoundError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super('NOT_FOUND', message, options);
  }
}

/** A write carried a stale resourceVersion; re-read and try again. */
export class ConflictError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super('CONFLICT', message, options);
  }
}

/** Input that fails validation at an edge (HTTP body, CLI flag, config). */
export class ValidationError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super('VALIDATION', message, options);
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** A bounded, single-line message for status fields and client answers. */
export function boundedMessage(message: string, max = 512): string {
  const oneLine = message.replace(/\s+/g, ' ').trim();
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}
