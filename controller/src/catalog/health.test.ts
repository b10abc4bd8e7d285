import { describe, expect, it } from 'vitest';
import { FakeExecutor } from '../exec/fake-executor.ts';
import { PodmanClient } from '../podman/client.ts';
import type { SecretSummary } from '../podman/parse.ts';
import { HealthChecker } from './health.ts';

function podman(names: string[] | Error | 'hang') {
  const p = {
    calls: 0,
    listSecrets: async (): Promise<SecretSummary[]> => {
      p.calls += 1;
      if (names === 'hang') return new Promise(() => undefined);
      if (names instanceof Error) throw names;
      return names.map((name) => ({ id: name, name, driver: 'file' }));
    },
  };
  return p;
}

describe('HealthChecker', () => {
  it('reports podman ok and the credentials ok when every credential secret exists', async () => {
    const checker = new HealthChecker({ podman: podman(['claude-key', 'other']), credentialSecrets: ['claude-key'] });
    expect(await checker.check()).toEqual([
      { name: 'podman', status: 'ok' },
      { name: 'claude-credentials-secret', status: 'ok' },
    ]);
    expect(await checker.claudeConfigured()).toBe(true);
  });

  it('names a missing credential secret', async () => {
    const checker = new HealthChecker({ podman: podman([]), credentialSecrets: ['claude-key'] });
    expect((await checker.check())[1]).toEqual({ name: 'claude-credentials-secret', status: 'error', error: "podman secret 'claude-key' not found: create it with 'podman secret create'" });
    expect(await checker.claudeConfigured()).toBe(false);
  });

  it('counts an API endpoint in the environment as credentials, and nothing as none', async () => {
    expect((await new HealthChecker({ podman: podman([]), apiEndpointConfigured: true }).check())[1]?.status).toBe('ok');
    expect((await new HealthChecker({ podman: podman([]) }).check())[1]).toMatchObject({ status: 'error', error: expect.stringMatching(/no Claude credentials configured/) });
  });

  it('reports both components failing when podman cannot be run', async () => {
    const checker = new HealthChecker({ podman: new PodmanClient({ executor: new FakeExecutor() }), credentialSecrets: ['k'] });
    const components = await checker.check();
    expect(components[0]).toEqual({ name: 'podman', status: 'error', error: 'failed to connect to podman: podman is not installed or cannot be executed' });
    expect(components[1]?.status).toBe('error');
  });

  it('gives up on a podman that does not answer within the timeout', async () => {
    const checker = new HealthChecker({ podman: podman('hang'), timeoutMs: 20 });
    expect((await checker.check())[0]).toEqual({ name: 'podman', status: 'error', error: 'failed to connect to podman: no answer within 20 ms' });
  });

  it('runs one check for a burst of probes and reuses it for cacheMs', async () => {
    let now = 0;
    const p = podman(['k']);
    const checker = new HealthChecker({ podman: p, credentialSecrets: ['k'], cacheMs: 1000, now: () => now });
    await Promise.all(Array.from({ length: 50 }, () => checker.check()));
    expect(p.calls).toBe(1);
    now = 999;
    await checker.check();
    expect(p.calls).toBe(1);
    now = 1000;
    await checker.check();
    expect(p.calls).toBe(2);
  });
});
