import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { clearSecretValues, scrub } from '../../../contract/redact.ts';
import { credentialSecretNames, syncCredentialSecrets } from './credentials.ts';

const CredentialSecretNames = credentialSecretNames('embedded-test');

class RecordingPodman {
  readonly secrets = new Map<string, string>();
  readonly removed: string[] = [];
  async createSecret(name: string, value: string): Promise<void> {
    this.secrets.set(name, value);
  }
  async removeSecret(name: string): Promise<void> {
    this.removed.push(name);
    this.secrets.delete(name);
  }
}

afterEach(() => clearSecretValues());

describe('syncCredentialSecrets', () => {
  it('turns an API key into an env secret, registers it for scrubbing, and removes sources that are gone', async () => {
    const podman = new RecordingPodman();
    const state = await syncCredentialSecrets(podman, { owner: 'embedded-test', env: { ANTHROPIC_API_KEY: 'sk-ant-test-0123456789' } });
    expect(state).toEqual({ secrets: [{ secret: CredentialSecretNames.apiKey, target: 'ANTHROPIC_API_KEY' }], kinds: ['api-key'] });
    expect(podman.secrets.get(CredentialSecretNames.apiKey)).toBe('sk-ant-test-0123456789');
    expect(podman.removed).toEqual([CredentialSecretNames.oauthToken, CredentialSecretNames.credentialsFile]);
    expect(scrub('key=sk-ant-test-0123456789!')).toBe('key=***!');
  });

  it('mounts a credentials file at the container HOME as a mount secret', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cred-'));
    try {
      const file = join(dir, '.credentials.json');
      await writeFile(file, '{"claudeAiOauth":{"accessToken":"tok-abcdefgh"}}\n');
      const podman = new RecordingPodman();
      const state = await syncCredentialSecrets(podman, { owner: 'embedded-test', env: {}, credentialsFile: file });
      expect(state.secrets).toEqual([{ secret: CredentialSecretNames.credentialsFile, target: '/home/user/.claude/.credentials.json', type: 'mount' }]);
      expect(state.kinds).toEqual(['credentials-file']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names secrets after the owner, so two servers never touch each other\'s', () => {
    expect(credentialSecretNames('embedded-a').apiKey).toBe('stromboli-embedded-a-anthropic-api-key');
    expect(credentialSecretNames('embedded-a').apiKey).not.toBe(credentialSecretNames('embedded-b').apiKey);
  });

  it('reports nothing configured when there is nothing, and leaves no stale secret', async () => {
    const podman = new RecordingPodman();
    podman.secrets.set(CredentialSecretNames.apiKey, 'old-value-123456');
    expect(await syncCredentialSecrets(podman, { owner: 'embedded-test', env: { ANTHROPIC_API_KEY: '  ' } })).toEqual({ secrets: [], kinds: [] });
    expect(podman.secrets.size).toBe(0);
  });
});
