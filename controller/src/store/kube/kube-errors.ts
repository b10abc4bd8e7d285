// Turns what @kubernetes/client-node throws into the project's error classes (docs/errors.md),
// by HTTP status code and the API server's Status.reason, never by message text. The shape is
// KOPF's (kopf/_cogs/clients/errors.py): one table from the server's answer to an error class.
//
// client-node 2.0.1 throws an ApiException with `code` (the HTTP status), `body` (the raw
// response text, a JSON `Status` for API errors; undefined for 401) and `headers`. A failure
// below HTTP (connection refused, TLS, abort) is undici's TypeError('fetch failed') or a
// DOMException, without a `code` number.

import { z } from 'zod';
import { AppError, ConflictError, NotFoundError, TransientError, ValidationError, isAppError } from '../../../../contract/errors.ts';
import { compact } from '../../../../contract/compact.ts';

/** The API server's metav1.Status, as far as error mapping reads it. */
export const KubeStatusSchema = z
  .object({
    kind: z.literal('Status').optional(),
    status: z.string().optional(),
    code: z.number().int().optional(),
    reason: z.string().optional(),
    message: z.string().optional(),
    details: z
      .object({
        name: z.string().optional(),
        kind: z.string().optional(),
        retryAfterSeconds: z.number().optional(),
        causes: z.array(z.object({ field: z.string().optional(), message: z.string().optional(), reason: z.string().optional() }).loose()).optional(),
      })
      .loose()
      .optional(),
  })
  .loose();
/** A parsed Status. */
export type KubeStatus = z.infer<typeof KubeStatusSchema>;

/** What an HTTP failure boils down to: the status code and the server's Status, when it sent one. */
export interface KubeFailure {
  /** HTTP status code; undefined when the request never got an answer. */
  code: number | undefined;
  status: KubeStatus | undefined;
  /** Retry-After header, in seconds, when the server sent one. */
  retryAfterSeconds: number | undefined;
}

/** Delay a TransientError from a 429 carries when the server named none. */
export const DEFAULT_RETRY_AFTER_MS = 1_000;

/** Parses a Status out of an ApiException body (raw text or an object); undefined when it is none. */
export function parseKubeStatus(body: unknown): KubeStatus | undefined {
  let value: unknown = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  const parsed = KubeStatusSchema.safeParse(value);
  return parsed.success && parsed.data.kind === 'Status' ? parsed.data : undefined;
}

/** Reads the parts of an ApiException (or a watch's non-200 error) that mapping needs; structural, no class import. */
export function toKubeFailure(err: unknown): KubeFailure {
  const rawCode = typeof prop(err, 'code') === 'number' ? prop(err, 'code') : prop(err, 'statusCode');
  const code = typeof rawCode === 'number' && rawCode >= 100 && rawCode < 600 ? rawCode : undefined;
  const status = parseKubeStatus(prop(err, 'body'));
  const retryAfter = prop(prop(err, 'headers'), 'retry-after');
  const retryAfterSeconds = typeof retryAfter === 'string' && /^\d+$/.test(retryAfter) ? Number(retryAfter) : status?.details?.retryAfterSeconds;
  return { code: code ?? status?.code, status, retryAfterSeconds };
}

/** One property of an unknown value, or undefined. */
function prop(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && key in value ? (value as Record<string, unknown>)[key] : undefined;
}

/**
 * The project error for a failed call. `what` names the call and object for the message
 * ("get ns/name"); the server's own message follows it. AppErrors pass through unchanged.
 */
export function toStoreError(err: unknown, what: string): Error {
  if (isAppError(err)) return err;
  const failure = toKubeFailure(err);
  const { code, status } = failure;
  const reason = status?.reason;
  const serverMessage = status?.message ?? (err instanceof Error ? err.message.split('\n')[0] : String(err));
  const message = `${what}: ${serverMessage ?? 'failed'}`;
  const details = { ...compact({ httpStatus: code }), ...compact({ reason }) };
  const options = { cause: err, details };
  if (code === undefined) return new AppError('UNAVAILABLE', message, options);
  if (code === 404) return new NotFoundError(message, options);
  if (code === 409) return reason === 'AlreadyExists' ? new AppError('ALREADY_EXISTS', message, options) : new ConflictError(message, options);
  if (code === 400 || code === 422) return new ValidationError(message, options);
  if (code === 401) return new AppError('UNAUTHORIZED', message, options);
  if (code === 403) return new AppError('FORBIDDEN', message, options);
  if (code === 410) return new TransientError(message, 0, options); // Expired/Gone: re-read and go on
  if (code === 429) {
    const retryAfterMs = failure.retryAfterSeconds === undefined ? DEFAULT_RETRY_AFTER_MS : failure.retryAfterSeconds * 1000;
    return new TransientError(message, retryAfterMs, options);
  }
  if (code === 504 || reason === 'Timeout' || reason === 'ServerTimeout') return new AppError('TIMEOUT', message, options);
  if (code >= 500) return new AppError('UNAVAILABLE', message, options);
  return new AppError('INTERNAL', message, options); // 405, 406, 415: a request this client should never send
}

/**
 * toStoreError for a list request. With a `continue` token, a 410 means the token has expired
 * (the API server compacted the snapshot the paging was served from): AppError 'EXPIRED', so a
 * client starts the list again, where toStoreError's TransientError would have it retry the
 * same token for ever.
 */
export function toListError(err: unknown, what: string, withContinue: boolean): Error {
  const failure = isAppError(err) ? undefined : toKubeFailure(err);
  if (withContinue && failure?.code === 410) {
    const details = { httpStatus: 410, ...compact({ reason: failure.status?.reason }) };
    return new AppError('EXPIRED', `${what}: the continue token has expired; start the list again without it`, { cause: err, details });
  }
  return toStoreError(err, what);
}

/** Whether a watch ERROR event's Status (or a failed call) says the resourceVersion is too old: relist from scratch. */
export function isExpired(status: KubeStatus | undefined): boolean {
  return status?.code === 410 || status?.reason === 'Expired' || status?.reason === 'Gone';
}
