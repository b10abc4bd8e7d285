// The HTTP status of every error code, decided once, at the API edge. A Record over ErrorCode, so
// a new code does not compile until it has a status here.
import type { ErrorCode } from '../../contract/errors.ts';
import { isAppError } from '../../contract/errors.ts';

export const HTTP_STATUS: Record<ErrorCode, number> = {
  INVALID_SPEC: 400,
  VALIDATION: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  ALREADY_EXISTS: 409,
  FORBIDDEN_PATH: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  TOO_MANY_REQUESTS: 429,
  UNAVAILABLE: 503,
  TRANSIENT: 503,
  COMMAND_FAILED: 500,
  UPSTREAM_FAILED: 502,
  IMAGE_NOT_FOUND: 404,
  TIMEOUT: 504,
  EXPIRED: 410,
  INTERNAL: 500,
};

/** A client-safe view of an error: known codes with their status, everything else a generic 500. */
export interface HttpError {
  statusCode: number;
  code: ErrorCode;
  message: string;
}

export function toHttpError(err: unknown): HttpError {
  if (isAppError(err)) {
    const statusCode = HTTP_STATUS[err.code];
    if (statusCode < 500) return { statusCode, code: err.code, message: err.message };
    if (err.code === 'UNAVAILABLE' || err.code === 'TRANSIENT' || err.code === 'TIMEOUT' || err.code === 'UPSTREAM_FAILED') return { statusCode, code: err.code, message: err.message };
  }
  return { statusCode: 500, code: 'INTERNAL', message: 'internal server error' };
}
