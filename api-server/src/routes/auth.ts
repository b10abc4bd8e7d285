// /auth/*: JWTs for clients (stromboli.md §1.11, §9; checklist items 46-50). /auth/token sits
// behind the auth hook (only an authenticated client mints tokens); refresh, validate and logout
// check the token they are given themselves. Unlike Stromboli, validate and refresh honour
// revocation, and refresh revokes the refresh token it consumed (docs/compatibility.md).
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../../contract/errors.ts';
import { AuthMessages, bearerToken } from '../auth/authenticate.ts';
import type { JwtService, TokenPair, VerifiedToken } from '../auth/jwt.ts';
import type { RevocationList } from '../auth/revocations.ts';
import { authEnvelope } from '../plugins/envelopes.ts';

export const JWT_NOT_CONFIGURED = 'JWT authentication not configured';
export const INVALID_REFRESH = 'invalid or expired refresh token';

const ErrorBody = z.object({ error: z.string() });
const TokenResponse = z.object({
  access_token: z.string(),
  refresh_token: z.string(),
  token_type: z.literal('bearer').describe('Lower case, as Stromboli sends it.'),
  expires_in: z.number().int().describe('Seconds until the access token expires.'),
});
const AuthHeader = z.looseObject({ authorization: z.string().optional().describe('Bearer <access token>') });

export interface AuthRoutesOptions {
  /** Absent when no JWT secret is configured: every endpoint answers 503. */
  jwt?: JwtService;
  revocations: RevocationList;
}

function toTokenResponse(pair: TokenPair): z.infer<typeof TokenResponse> {
  return { access_token: pair.accessToken, refresh_token: pair.refreshToken, token_type: 'bearer', expires_in: pair.expiresIn };
}

function requireJwt(jwt: JwtService | undefined): JwtService {
  if (jwt === undefined) throw new AppError('UNAVAILABLE', JWT_NOT_CONFIGURED);
  return jwt;
}

/** Revocation lookups fail closed: an unreadable list is a 503, never a pass. */
async function isRevoked(revocations: RevocationList, jti: string): Promise<boolean> {
  try {
    return await revocations.isRevoked(jti);
  } catch (cause) {
    throw new AppError('UNAVAILABLE', AuthMessages.backendUnavailable, { cause });
  }
}

async function revoke(revocations: RevocationList, token: VerifiedToken): Promise<void> {
  try {
    await revocations.revoke(token.jti, token.expiresAt);
  } catch (cause) {
    throw new AppError('UNAVAILABLE', AuthMessages.backendUnavailable, { cause });
  }
}

/** The verified, unrevoked access token of an Authorization header; Stromboli's 401s otherwise. */
async function accessTokenOf(header: string | undefined, jwt: JwtService, revocations: RevocationList): Promise<VerifiedToken> {
  if (header === undefined || header === '') throw new AppError('UNAUTHORIZED', AuthMessages.missingHeader);
  const token = bearerToken(header);
  if (token === undefined) throw new AppError('UNAUTHORIZED', AuthMessages.badFormat);
  const claims = await jwt.verify(token, 'access');
  if (claims === undefined) throw new AppError('UNAUTHORIZED', AuthMessages.invalidToken);
  if (await isRevoked(revocations, claims.jti)) throw new AppError('UNAUTHORIZED', AuthMessages.revoked);
  return claims;
}

/** POST /auth/token: registered inside the authenticated scope. */
export const authTokenRoutes: FastifyPluginAsync<AuthRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.post(
    '/auth/token',
    {
      schema: {
        tags: ['auth'],
        summary: 'Issue an access + refresh token pair for client_id (needs a valid Bearer when auth is on)',
        body: z.object({ client_id: z.string().min(1).max(256) }),
        response: { 200: TokenResponse, 400: ErrorBody, 503: ErrorBody },
      },
      config: { errorEnvelope: authEnvelope },
    },
    async (request) => toTokenResponse(await requireJwt(opts.jwt).issuePair(request.body.client_id)),
  );
};

/** POST /auth/refresh, GET /auth/validate, POST /auth/logout: outside the auth hook (they read the token themselves). */
export const authRoutes: FastifyPluginAsync<AuthRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  app.post(
    '/auth/refresh',
    {
      schema: {
        tags: ['auth'],
        summary: 'Exchange a refresh token for a new pair (the old refresh token is revoked)',
        body: z.object({ refresh_token: z.string().min(1) }),
        response: { 200: TokenResponse, 400: ErrorBody, 401: ErrorBody, 503: ErrorBody },
      },
      config: { errorEnvelope: authEnvelope },
    },
    async (request) => {
      const jwt = requireJwt(opts.jwt);
      const claims = await jwt.verify(request.body.refresh_token, 'refresh');
      if (claims === undefined || (await isRevoked(opts.revocations, claims.jti))) throw new AppError('UNAUTHORIZED', INVALID_REFRESH);
      // Rotation: a refresh token works once, so a stolen copy is useless after the owner refreshes.
      await revoke(opts.revocations, claims);
      return toTokenResponse(await jwt.issuePair(claims.subject));
    },
  );

  app.get(
    '/auth/validate',
    {
      schema: {
        tags: ['auth'],
        summary: 'Check an access token (Authorization: Bearer)',
        headers: AuthHeader,
        response: { 200: z.object({ valid: z.literal(true), subject: z.string(), expires_at: z.number().int().describe('Unix seconds.') }), 401: ErrorBody, 503: ErrorBody },
      },
      config: { errorEnvelope: authEnvelope },
    },
    async (request) => {
      const claims = await accessTokenOf(request.headers.authorization, requireJwt(opts.jwt), opts.revocations);
      return { valid: true as const, subject: claims.subject, expires_at: claims.expiresAt };
    },
  );

  await app.register(logoutRoute, opts);
};

/**
 * POST /auth/logout in a scope of its own: Stromboli's logout reads no body, so a client may send
 * anything (or an empty body with `Content-Type: application/json`); this scope's parser turns an
 * empty or malformed body into "no body" instead of Fastify's 400, and keeps its poisoning guard.
 */
const logoutRoute: FastifyPluginAsync<AuthRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    parseJson(request, text, (err: Error | null, value?: unknown) => done(null, err === null ? value : undefined));
  });

  app.post(
    '/auth/logout',
    {
      schema: {
        tags: ['auth'],
        summary: 'Revoke the access token (and, if given, a refresh token of the same client)',
        headers: AuthHeader,
        // Optional and never a 400: Stromboli's logout reads no body, so clients send anything or nothing.
        body: z
          .looseObject({ refresh_token: z.string().optional().describe('Also revoke this refresh token (same client).') })
          .nullish()
          .catch(undefined),
        response: { 200: z.object({ success: z.literal(true), message: z.literal('token invalidated') }), 400: ErrorBody, 401: ErrorBody, 503: ErrorBody },
      },
      config: { errorEnvelope: authEnvelope },
    },
    async (request) => {
      const jwt = requireJwt(opts.jwt);
      const claims = await accessTokenOf(request.headers.authorization, jwt, opts.revocations);
      await revoke(opts.revocations, claims);
      const refreshToken = request.body?.refresh_token;
      if (refreshToken !== undefined) {
        const refresh = await jwt.verify(refreshToken, 'refresh');
        if (refresh !== undefined && refresh.subject === claims.subject) await revoke(opts.revocations, refresh);
      }
      return { success: true as const, message: 'token invalidated' as const };
    },
  );
};
