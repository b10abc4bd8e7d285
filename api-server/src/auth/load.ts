// Reads the API's credentials from where an operator keeps them: files and the environment, never
// argv (a command line is visible to every local user). Only the composition root calls this.
import { readFile, stat } from 'node:fs/promises';
import { parseApiTokens } from './policy.ts';
import { compact } from '../../../contract/compact.ts';

/** The environment variable of the JWT secret (Stromboli's name). */
export const JWT_SECRET_ENV = 'STROMBOLI_JWT_SECRET';
/** Comma-separated static API tokens (Stromboli's name). */
export const API_TOKENS_ENV = 'STROMBOLI_API_TOKENS';

export interface AuthSources {
  /** File holding the JWT secret (trailing newline ignored); wins over the environment. */
  jwtSecretFile?: string;
  /** File of static API tokens, one per line. */
  apiTokenFile?: string;
  /** Usually process.env: STROMBOLI_JWT_SECRET and STROMBOLI_API_TOKENS are read. */
  env: Readonly<Record<string, string | undefined>>;
}

export interface LoadedAuth {
  jwtSecret?: string;
  /** Undefined when neither a token file nor STROMBOLI_API_TOKENS was given. */
  apiTokens?: string[];
  /** Where each credential came from, for the start log (names only, never values). */
  sources: string[];
  /** Credential files other users can read: worth a warning. */
  exposedFiles: string[];
}

async function readSecretFile(path: string, what: string, exposed: string[]): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
  if (((await stat(path)).mode & 0o077) !== 0) exposed.push(path);
  return text;
}

/** Reads the configured credential files and variables; throws a clear Error when a file cannot be read. */
export async function loadAuthSources(sources: AuthSources): Promise<LoadedAuth> {
  const exposedFiles: string[] = [];
  const from: string[] = [];
  let jwtSecret: string | undefined;
  if (sources.jwtSecretFile !== undefined) {
    jwtSecret = (await readSecretFile(sources.jwtSecretFile, 'JWT secret', exposedFiles)).replace(/\r?\n$/, '');
    from.push('jwt-secret-file');
  } else if (sources.env[JWT_SECRET_ENV] !== undefined && sources.env[JWT_SECRET_ENV] !== '') {
    jwtSecret = sources.env[JWT_SECRET_ENV];
    from.push(JWT_SECRET_ENV);
  }
  let apiTokens: string[] | undefined;
  if (sources.apiTokenFile !== undefined) {
    apiTokens = parseApiTokens(await readSecretFile(sources.apiTokenFile, 'API token', exposedFiles));
    from.push('api-token-file');
  }
  const envTokens = sources.env[API_TOKENS_ENV];
  if (envTokens !== undefined && envTokens.trim() !== '') {
    apiTokens = [...(apiTokens ?? []), ...envTokens.split(',').map((t) => t.trim()).filter((t) => t !== '')];
    from.push(API_TOKENS_ENV);
  }
  return { ...compact({ jwtSecret }), ...compact({ apiTokens }), sources: from, exposedFiles };
}
