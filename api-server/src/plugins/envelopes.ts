// Stromboli's error bodies differ per endpoint family (stromboli.md §1.13); each route picks one
// through `config.errorEnvelope`, and the one error handler renders it. These are the families
// of the catalog and auth endpoints; the run family lives with the run routes.
// A 500 always carries a fixed message (the handler already hides unknown errors' text); a 503
// keeps its own, because it says what is missing (podman, JWT configuration).
import type { ErrorEnvelope } from './error-handler.ts';

function shown(statusCode: number, message: string, serverError: string): string {
  return statusCode >= 500 && statusCode !== 503 ? serverError : message;
}

/** `{"error": "..."}`: auth, images, GET /secrets/{name}, session history. */
export function errorOnly(serverError = 'internal server error'): ErrorEnvelope {
  return ({ statusCode, message }) => ({ error: shown(statusCode, message, serverError) });
}

/** errorOnly with the generic 500 message. */
export const errorOnlyEnvelope: ErrorEnvelope = errorOnly();

/**
 * The /auth family: `{"error": "..."}`, but Stromboli writes "invalid request: <msg>" in lower
 * case there (its /run family says "Invalid request").
 */
export const authEnvelope: ErrorEnvelope = ({ statusCode, code, message }) => ({
  error: code === 'VALIDATION' ? message.replace(/^Invalid request: /, 'invalid request: ') : shown(statusCode, message, 'internal server error'),
});

/** `{"success": false, "error": "..."}`: DELETE /sessions/{id}, POST and DELETE /secrets. */
export function successFalse(serverError: string): ErrorEnvelope {
  return ({ statusCode, message }) => ({ success: false, error: shown(statusCode, message, serverError) });
}

/** `{"<list>": null, "error": "..."}`: GET /sessions and GET /secrets. */
export function nullList(list: 'sessions' | 'secrets', serverError: string): ErrorEnvelope {
  return ({ statusCode, message }) => ({ [list]: null, error: shown(statusCode, message, serverError) });
}
