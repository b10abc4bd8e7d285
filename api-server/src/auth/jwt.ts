// HS256 JWTs for the /auth endpoints and the auth hook (jose lives only here). Claims follow
// Stromboli: sub = client_id, iat, exp, jti (UUID v4); refresh tokens add is_refresh: true, and
// the two kinds are never interchangeable.
import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';

/** Default lifetimes, Stromboli's: 24 h access, 168 h refresh. */
export const DEFAULT_ACCESS_TTL_SECONDS = 24 * 3600;
export const DEFAULT_REFRESH_TTL_SECONDS = 168 * 3600;

export interface JwtServiceOptions {
  /** The HMAC key; its strength is checked by checkJwtSecret before it gets here. */
  secret: string;
  /** Default DEFAULT_ACCESS_TTL_SECONDS. */
  accessTtlSeconds?: number;
  /** Default DEFAULT_REFRESH_TTL_SECONDS. */
  refreshTtlSeconds?: number;
  /** Injectable clock (ms) for tests. Default Date.now. */
  now?: () => number;
}

export type TokenKind = 'access' | 'refresh';

/** The claims of a verified token. */
export interface VerifiedToken {
  subject: string;
  jti: string;
  /** Unix seconds. */
  issuedAt: number;
  /** Unix seconds. */
  expiresAt: number;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  /** Lifetime of the access token in seconds. */
  expiresIn: number;
}

/** Issues and verifies the server's JWTs. */
export class JwtService {
  readonly #key: Uint8Array;
  readonly #accessTtl: number;
  readonly #refreshTtl: number;
  readonly #now: () => number;

  constructor(options: JwtServiceOptions) {
    this.#key = new TextEncoder().encode(options.secret);
    this.#accessTtl = options.accessTtlSeconds ?? DEFAULT_ACCESS_TTL_SECONDS;
    this.#refreshTtl = options.refreshTtlSeconds ?? DEFAULT_REFRESH_TTL_SECONDS;
    this.#now = options.now ?? Date.now;
    for (const [name, ttl] of [['accessTtlSeconds', this.#accessTtl], ['refreshTtlSeconds', this.#refreshTtl]] as const) {
      if (!Number.isInteger(ttl) || ttl <= 0) throw new TypeError(`${name} must be a positive integer, got ${String(ttl)}`);
    }
  }

  /** A new access + refresh pair for `subject`. */
  async issuePair(subject: string): Promise<TokenPair> {
    return {
      accessToken: await this.#sign(subject, 'access'),
      refreshToken: await this.#sign(subject, 'refresh'),
      expiresIn: this.#accessTtl,
    };
  }

  /** The token's claims when it is a valid, unexpired token of `kind`; undefined otherwise (never throws for a bad token). */
  async verify(token: string, kind: TokenKind): Promise<VerifiedToken | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        algorithms: ['HS256'],
        requiredClaims: ['sub', 'iat', 'exp', 'jti'],
        currentDate: new Date(this.#now()),
      });
      const isRefresh = payload['is_refresh'] === true;
      if (isRefresh !== (kind === 'refresh')) return undefined;
      const { sub, jti, iat, exp } = payload;
      if (typeof sub !== 'string' || typeof jti !== 'string' || typeof iat !== 'number' || typeof exp !== 'number') return undefined;
      return { subject: sub, jti, issuedAt: iat, expiresAt: exp };
    } catch {
      // Bad signature, wrong algorithm, malformed, expired: all the same answer to the client.
      return undefined;
    }
  }

  async #sign(subject: string, kind: TokenKind): Promise<string> {
    const now = Math.floor(this.#now() / 1000);
    const ttl = kind === 'refresh' ? this.#refreshTtl : this.#accessTtl;
    return new SignJWT(kind === 'refresh' ? { is_refresh: true } : {})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(subject)
      .setIssuedAt(now)
      .setExpirationTime(now + ttl)
      .setJti(randomUUID())
      .sign(this.#key);
  }
}
