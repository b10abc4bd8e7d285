// Everything the composition root does for API auth, in one call: read the credentials (files,
// environment), decide whether auth is on (policy.ts; throws when the server must not start),
// and open the persistent revocation list. The result goes straight into buildApp.
import type { AppAuthOptions } from '../app.ts';
import { loadAuthSources } from './load.ts';
import { decideAuth } from './policy.ts';
import type { AuthDecision, AuthMode } from './policy.ts';
import { FileRevocationList } from './revocations.ts';
import { compact } from '../../../contract/compact.ts';

export interface AuthSetupOptions {
  mode: AuthMode;
  /** The address the API listens on. */
  host: string;
  jwtSecretFile?: string;
  apiTokenFile?: string;
  /** STROMBOLI_JWT_SECRET and STROMBOLI_API_TOKENS are read from here. */
  env: Readonly<Record<string, string | undefined>>;
  /** The revoked-token file, e.g. <stateDir>/auth/revoked-tokens.json. */
  revocationsPath: string;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
}

export interface AuthSetup {
  app: AppAuthOptions;
  decision: AuthDecision;
  /** Where credentials came from (names of files/variables, never values). */
  sources: string[];
  /** Credential files readable by other users. */
  exposedFiles: string[];
}

export async function setupAuth(options: AuthSetupOptions): Promise<AuthSetup> {
  const loaded = await loadAuthSources({
    env: options.env,
    ...compact({ jwtSecretFile: options.jwtSecretFile }),
    ...compact({ apiTokenFile: options.apiTokenFile }),
  });
  const decision = decideAuth({
    mode: options.mode,
    host: options.host,
    ...compact({ jwtSecret: loaded.jwtSecret }),
    ...compact({ apiTokens: loaded.apiTokens }),
  });
  const revocations = await FileRevocationList.open({ path: options.revocationsPath });
  return {
    app: {
      enabled: decision.enabled,
      revocations,
      ...compact({ apiTokens: loaded.apiTokens }),
      ...(loaded.jwtSecret === undefined
        ? {}
        : { jwt: { secret: loaded.jwtSecret, accessTtlSeconds: options.accessTtlSeconds, refreshTtlSeconds: options.refreshTtlSeconds } }),
    },
    decision,
    sources: loaded.sources,
    exposedFiles: loaded.exposedFiles,
  };
}
