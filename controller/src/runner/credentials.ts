// Claude credentials reach agent containers only as podman secrets. At start the server turns
// what it was given (ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN in its environment, or a Claude
// credentials file) into podman secrets it owns, replacing stale ones, and registers the values
// for scrubbing. Values never go to argv, container env listings, logs or status.
import { readFile } from 'node:fs/promises';
import { registerSecretValue } from '../../../contract/redact.ts';
import type { CredentialSecret } from './podman-runner.ts';
import { CONTAINER_HOME } from './podman-runner.ts';

/** The podman operations credentials need (PodmanClient has them). */
export interface SecretWriter {
  createSecret(name: string, value: string): Promise<void>;
  removeSecret(name: string): Promise<void>;
}

/** The podman secrets a server owns, named after its owner label, so that several servers on one host (or a test suite beside a real server) never replace or remove each other's. */
export interface CredentialSecretNameSet {
  apiKey: string;
  oauthToken: string;
  credentialsFile: string;
}

export function credentialSecretNames(owner: string): CredentialSecretNameSet {
  return {
    apiKey: `stromboli-${owner}-anthropic-api-key`,
    oauthToken: `stromboli-${owner}-claude-oauth-token`,
    credentialsFile: `stromboli-${owner}-claude-credentials`,
  };
}

export interface CredentialSources {
  /** The server's owner label (embedded: a hash of its state directory); names its secrets. */
  owner: string;
  /** Usually process.env; only ANTHROPIC_API_KEY and CLAUDE_CODE_OAUTH_TOKEN are read. */
  env: Readonly<Record<string, string | undefined>>;
  /** A Claude credentials file (~/.claude/.credentials.json as `claude login` writes it). Default: none. */
  credentialsFile?: string;
}

/** What the server told podman, for the runner and for /health (names and kinds only, never values). */
export interface CredentialState {
  secrets: CredentialSecret[];
  /** Which kinds are configured: 'api-key', 'oauth-token', 'credentials-file'. */
  kinds: string[];
}

/** Creates or replaces the credential secrets; removes the ones whose source is gone. */
export async function syncCredentialSecrets(podman: SecretWriter, sources: CredentialSources): Promise<CredentialState> {
  const names = credentialSecretNames(sources.owner);
  const secrets: CredentialSecret[] = [];
  const kinds: string[] = [];
  const apiKey = sources.env.ANTHROPIC_API_KEY?.trim();
  const oauth = sources.env.CLAUDE_CODE_OAUTH_TOKEN?.trim();

  if (apiKey !== undefined && apiKey !== '') {
    registerSecretValue(apiKey);
    await podman.createSecret(names.apiKey, apiKey);
    secrets.push({ secret: names.apiKey, target: 'ANTHROPIC_API_KEY' });
    kinds.push('api-key');
  } else {
    await podman.removeSecret(names.apiKey);
  }

  if (oauth !== undefined && oauth !== '') {
    registerSecretValue(oauth);
    await podman.createSecret(names.oauthToken, oauth);
    secrets.push({ secret: names.oauthToken, target: 'CLAUDE_CODE_OAUTH_TOKEN' });
    kinds.push('oauth-token');
  } else {
    await podman.removeSecret(names.oauthToken);
  }

  if (sources.credentialsFile !== undefined) {
    const content = await readFile(sources.credentialsFile, 'utf8');
    registerSecretValue(content.trim());
    await podman.createSecret(names.credentialsFile, content);
    secrets.push({ secret: names.credentialsFile, target: `${CONTAINER_HOME}/.claude/.credentials.json`, type: 'mount' });
    kinds.push('credentials-file');
  } else {
    await podman.removeSecret(names.credentialsFile);
  }
  return { secrets, kinds };
}
