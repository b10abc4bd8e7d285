// Whether the API requires authentication, and whether the credentials it was given are usable.
// Pure: the composition root reads files and environment, these functions decide. The rule: a
// server reachable from other machines never starts open by accident.
import { isIP } from 'node:net';

/** Stromboli's refused JWT secrets (compared trimmed and case-insensitively). */
export const PLACEHOLDER_SECRETS: readonly string[] = [
  'change-me',
  'changeme',
  'replace-me',
  'your-secret-here',
  'your-jwt-secret',
  'generate-with-openssl-rand-base64-32',
  'insecure-secret-do-not-use-in-prod',
  'test-secret',
];

/** Shortest accepted JWT secret, Stromboli's. */
export const MIN_JWT_SECRET_LENGTH = 32;

/** Why `secret` is not usable as a JWT secret, or undefined when it is. Never echoes the secret. */
export function checkJwtSecret(secret: string): string | undefined {
  const trimmed = secret.trim();
  if (trimmed.length === 0) return 'is empty';
  if (PLACEHOLDER_SECRETS.includes(trimmed.toLowerCase())) return 'a known placeholder value';
  if (trimmed.length < MIN_JWT_SECRET_LENGTH) return `shorter than ${MIN_JWT_SECRET_LENGTH} characters`;
  return undefined;
}

/** The tokens of an API token file: one per line; blank lines and lines starting with # are ignored. */
export function parseApiTokens(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** Shortest accepted static API token: shorter ones are guessable. */
export const MIN_API_TOKEN_LENGTH = 16;

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h.startsWith('::ffff:127.');
  return false;
}

/** 'auto' (the default): on unless the server listens on loopback only and was given no credentials. */
export type AuthMode = 'auto' | 'on' | 'off';

export interface AuthInputs {
  mode: AuthMode;
  host: string;
  /** The JWT secret, when one was configured (file or environment). */
  jwtSecret?: string;
  /** Static API tokens, when a token file was configured. */
  apiTokens?: readonly string[];
}

export interface AuthDecision {
  enabled: boolean;
  /** Whether /auth/token can issue JWTs. */
  jwt: boolean;
  /** One line for the start log, saying what protects the API (or that nothing does). */
  summary: string;
}

/**
 * Decides auth from the configuration; throws Error with a clear message when the server must not
 * start: auth is on without any usable credential, or a credential is weak.
 */
export function decideAuth(inputs: AuthInputs): AuthDecision {
  if (inputs.jwtSecret !== undefined) {
    const problem = checkJwtSecret(inputs.jwtSecret);
    if (problem !== undefined) throw new Error(`invalid configuration: the JWT secret is ${problem}; use at least ${MIN_JWT_SECRET_LENGTH} random characters (e.g. openssl rand -base64 48)`);
  }
  const tokens = inputs.apiTokens ?? [];
  if (inputs.apiTokens !== undefined && tokens.length === 0) throw new Error('invalid configuration: the API token file holds no token');
  if (tokens.some((t) => t.length < MIN_API_TOKEN_LENGTH || /\s/.test(t))) {
    throw new Error(`invalid configuration: every API token must be at least ${MIN_API_TOKEN_LENGTH} characters without spaces`);
  }
  const jwt = inputs.jwtSecret !== undefined;
  const hasCredentials = jwt || tokens.length > 0;
  const loopback = isLoopbackHost(inputs.host);
  const enabled = inputs.mode === 'on' || (inputs.mode === 'auto' && (!loopback || hasCredentials));
  if (enabled && !hasCredentials) {
    throw new Error(
      `invalid configuration: auth is enabled${inputs.mode === 'auto' ? ` because ${inputs.host} is not a loopback address` : ''} but there is no JWT secret (--jwt-secret-file or STROMBOLI_JWT_SECRET) and no API token file (--api-token-file)`,
    );
  }
  const means = [jwt ? 'JWT' : undefined, tokens.length > 0 ? `${tokens.length} API token(s)` : undefined].filter((m) => m !== undefined).join(' + ');
  const summary = enabled
    ? `authentication required (${means})`
    : loopback
      ? 'authentication disabled: the API is open to every local user of this machine'
      : 'authentication disabled on a non-loopback address: anyone who can reach it can run agents';
  return { enabled, jwt, summary };
}
