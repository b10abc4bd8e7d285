// The decision of the auth hook, framework-free: an Authorization header in, a principal or one
// of Stromboli's auth failures out (checklist items 44-45, messages verbatim).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ErrorCode } from '../../../contract/errors.ts';
import type { JwtService } from './jwt.ts';
import type { RevocationList } from './revocations.ts';

/** Who made the request. */
export type Principal = { kind: 'api-token' } | { kind: 'jwt'; subject: string; jti: string; expiresAt: number };

export type AuthResult = { ok: true; principal: Principal } | { ok: false; code: ErrorCode; message: string };

/** Stromboli's messages, verbatim: SDKs and scripts match on them. */
export const AuthMessages = {
  missingHeader: 'missing authorization header',
  badFormat: 'invalid authorization header format',
  invalidToken: 'invalid or expired token',
  revoked: 'token revoked',
  backendUnavailable: 'auth backend unavailable',
} as const;

/** Static API tokens, compared in constant time (Stromboli compares with ==). */
export class ApiTokens {
  readonly #digests: Buffer[];

  constructor(tokens: readonly string[]) {
    this.#digests = tokens.map(digest);
  }

  get size(): number {
    return this.#digests.length;
  }

  matches(token: string): boolean {
    const candidate = digest(token);
    let found = false;
    // No early exit: the time taken does not say which token (if any) matched.
    for (const d of this.#digests) found = timingSafeEqual(d, candidate) || found;
    return found;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The token of `Authorization: Bearer <token>` (scheme case-insensitive); undefined when malformed. */
export function bearerToken(header: string): string | undefined {
  const space = header.indexOf(' ');
  if (space <= 0) return undefined;
  if (header.slice(0, space).toLowerCase() !== 'bearer') return undefined;
  const token = header.slice(space + 1).trim();
  return token === '' ? undefined : token;
}

export interface AuthenticateDeps {
  apiTokens: ApiTokens;
  /** Absent when no JWT secret is configured: only API tokens are accepted. */
  jwt?: JwtService;
  revocations: RevocationList;
}

/** Authenticates one request from its Authorization header. */
export async function authenticate(header: string | undefined, deps: AuthenticateDeps): Promise<AuthResult> {
  if (header === undefined || header === '') return { ok: false, code: 'UNAUTHORIZED', message: AuthMessages.missingHeader };
  const token = bearerToken(header);
  if (token === undefined) return { ok: false, code: 'UNAUTHORIZED', message: AuthMessages.badFormat };
  if (deps.apiTokens.matches(token)) return { ok: true, principal: { kind: 'api-token' } };
  const claims = deps.jwt === undefined ? undefined : await deps.jwt.verify(token, 'access');
  if (claims === undefined) return { ok: false, code: 'UNAUTHORIZED', message: AuthMessages.invalidToken };
  let revoked: boolean;
  try {
    revoked = await deps.revocations.isRevoked(claims.jti);
  } catch {
    // Fail closed: a revocation list we cannot read must not let a logged-out token through.
    return { ok: false, code: 'UNAVAILABLE', message: AuthMessages.backendUnavailable };
  }
  if (revoked) return { ok: false, code: 'UNAUTHORIZED', message: AuthMessages.revoked };
  return { ok: true, principal: { kind: 'jwt', subject: claims.subject, jti: claims.jti, expiresAt: claims.expiresAt } };
}
