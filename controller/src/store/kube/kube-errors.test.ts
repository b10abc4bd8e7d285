import { describe, expect, it } from 'vitest';
import { AppError, ConflictError, NotFoundError, TransientError, ValidationError } from '../../../../contract/errors.ts';
import { isExpired, parseKubeStatus, toListError, toStoreError } from './kube-errors.ts';

/** What client-node 2.0.1 throws: ApiException(code, message, body = the raw response text, headers). */
function apiException(code: number, status: Record<string, unknown> | undefined, headers: Record<string, string> = {}): Error {
  return Object.assign(new Error(`HTTP-Code: ${code}\nMessage: Unknown API Status Code!`), {
    code,
    body: status === undefined ? undefined : JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, ...status }),
    headers,
  });
}

describe('toStoreError', () => {
  it('maps by status code and reason, keeping the server message and the cause', () => {
    const notFound = apiException(404, { reason: 'NotFound', message: 'agentruns.stromboli.dev "x" not found' });
    const err = toStoreError(notFound, 'get ns/x');
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toBe('get ns/x: agentruns.stromboli.dev "x" not found');
    expect(err.cause).toBe(notFound);
    expect((err as AppError).details).toEqual({ httpStatus: 404, reason: 'NotFound' });
  });

  it('tells AlreadyExists from a resourceVersion Conflict, both 409', () => {
    const exists = toStoreError(apiException(409, { reason: 'AlreadyExists', message: 'already exists' }), 'create');
    expect(exists).toBeInstanceOf(AppError);
    expect((exists as AppError).code).toBe('ALREADY_EXISTS');
    expect(toStoreError(apiException(409, { reason: 'Conflict', message: 'the object has been modified' }), 'patch')).toBeInstanceOf(ConflictError);
  });

  it('makes 422 Invalid and 400 BadRequest a ValidationError with the server message', () => {
    const invalid = toStoreError(apiException(422, { reason: 'Invalid', message: 'metadata.name: Invalid value: "Not_Valid"' }), 'create ns/Not_Valid');
    expect(invalid).toBeInstanceOf(ValidationError);
    expect(invalid.message).toContain('metadata.name: Invalid value');
    expect(toStoreError(apiException(400, { reason: 'BadRequest', message: 'bad' }), 'x')).toBeInstanceOf(ValidationError);
  });

  it('never reads the message text: a 404 saying "conflict" is still NOT_FOUND', () => {
    expect(toStoreError(apiException(404, { reason: 'NotFound', message: 'Conflict AlreadyExists' }), 'x')).toBeInstanceOf(NotFoundError);
  });

  it('maps 401, 403, 429 (with Retry-After), timeouts, 5xx and a missing status', () => {
    expect((toStoreError(apiException(401, undefined), 'x') as AppError).code).toBe('UNAUTHORIZED');
    expect((toStoreError(apiException(403, { reason: 'Forbidden', message: 'no' }), 'x') as AppError).code).toBe('FORBIDDEN');
    const throttled = toStoreError(apiException(429, { reason: 'TooManyRequests', message: 'slow down' }, { 'retry-after': '3' }), 'x');
    expect(throttled).toBeInstanceOf(TransientError);
    expect((throttled as TransientError).retryAfterMs).toBe(3000);
    expect((toStoreError(apiException(429, { reason: 'TooManyRequests', details: { retryAfterSeconds: 2 } }), 'x') as TransientError).retryAfterMs).toBe(2000);
    expect((toStoreError(apiException(504, { reason: 'Timeout' }), 'x') as AppError).code).toBe('TIMEOUT');
    expect((toStoreError(apiException(500, { reason: 'ServerTimeout' }), 'x') as AppError).code).toBe('TIMEOUT');
    expect((toStoreError(apiException(503, { reason: 'ServiceUnavailable' }), 'x') as AppError).code).toBe('UNAVAILABLE');
    expect((toStoreError(apiException(415, { reason: 'UnsupportedMediaType' }), 'x') as AppError).code).toBe('INTERNAL');
  });

  it('makes a failure below HTTP (connection refused) UNAVAILABLE', () => {
    const refused = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }) });
    const err = toStoreError(refused, 'list');
    expect((err as AppError).code).toBe('UNAVAILABLE');
    expect(err.message).toBe('list: fetch failed');
  });

  it('reads the status code of a watch that was refused (Error with statusCode)', () => {
    expect(toStoreError(Object.assign(new Error('Forbidden'), { statusCode: 403 }), 'watch')).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('passes an AppError through', () => {
    const original = new ConflictError('stale');
    expect(toStoreError(original, 'x')).toBe(original);
  });
});

describe('parseKubeStatus and isExpired', () => {
  it('parses a Status from raw text or an object, and nothing else', () => {
    expect(parseKubeStatus('{"kind":"Status","code":410,"reason":"Expired"}')).toMatchObject({ code: 410, reason: 'Expired' });
    expect(parseKubeStatus({ kind: 'Status', code: 500 })).toMatchObject({ code: 500 });
    expect(parseKubeStatus('not json')).toBeUndefined();
    expect(parseKubeStatus({ kind: 'AgentRun' })).toBeUndefined();
    expect(parseKubeStatus(undefined)).toBeUndefined();
  });

  it('recognises a too old resourceVersion by code or reason', () => {
    expect(isExpired({ code: 410 })).toBe(true);
    expect(isExpired({ reason: 'Expired' })).toBe(true);
    expect(isExpired({ code: 500, reason: 'InternalError' })).toBe(false);
    expect(isExpired(undefined)).toBe(false);
  });
});

describe('toListError', () => {
  const expired = apiException(410, { reason: 'Expired', message: 'The provided continue parameter is too old to display a consistent list result.' });

  it('makes a 410 for a continue token AppError EXPIRED (start the list again), keeping the cause', () => {
    const err = toListError(expired, 'list agentruns.stromboli.dev in ns', true);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('EXPIRED');
    expect(err.message).toBe('list agentruns.stromboli.dev in ns: the continue token has expired; start the list again without it');
    expect(err.cause).toBe(expired);
    expect((err as AppError).details).toEqual({ httpStatus: 410, reason: 'Expired' });
  });

  it('maps everything else as toStoreError does, a 410 without a token included', () => {
    expect(toListError(expired, 'list', false)).toBeInstanceOf(TransientError);
    expect(toListError(apiException(400, { reason: 'BadRequest', message: 'continue key is not valid' }), 'list', true)).toBeInstanceOf(ValidationError);
  });
});
