import { describe, expect, it } from 'vitest';
import { buildPodmanRunArgs } from './args.ts';
import type { PodmanRunSpec } from './args.ts';
import { buildCreateBody, memoryBytes } from './create-body.ts';

const spec: PodmanRunSpec = {
  name: 'stromboli-demo-abc',
  image: 'localhost/stromboli/agent:latest',
  command: ['-p', '--output-format', 'stream-json', '--', 'fix it'],
  labels: { 'stromboli.dev/uid': 'u1', 'stromboli.dev/managed': 'true' },
  env: { ZED: '1', HOME: '/home/user' },
  secrets: [
    { name: 'gh-token', target: 'GH_TOKEN' },
    { name: 'stromboli-creds', target: '/home/user/.claude/.credentials.json', type: 'mount' },
    { name: 'stromboli-anthropic-api-key', target: 'ANTHROPIC_API_KEY' },
  ],
  mounts: [
    { source: '/state/sessions/s', target: '/home/user' },
    { source: '/srv/app', target: '/workspace', readOnly: true, options: ['z'] },
  ],
  user: '1000:1000',
  workdir: '/workspace',
  memory: '512m',
  cpus: '1',
  pidsLimit: 256,
  network: 'none',
  timeoutSeconds: 90,
  detach: true,
};

describe('buildCreateBody', () => {
  it('is the golden SpecGenerator body: every field name spelled as libpod reads it (unknown fields are silently ignored)', () => {
    expect(buildCreateBody(spec, { logPath: '/state/logs/attempt-1.k8s.log' })).toStrictEqual({
      name: 'stromboli-demo-abc',
      image: 'localhost/stromboli/agent:latest',
      command: ['-p', '--output-format', 'stream-json', '--', 'fix it'],
      labels: { 'stromboli.dev/managed': 'true', 'stromboli.dev/uid': 'u1' },
      env: { HOME: '/home/user', ZED: '1' },
      secret_env: { ANTHROPIC_API_KEY: 'stromboli-anthropic-api-key', GH_TOKEN: 'gh-token' },
      secrets: [{ source: 'stromboli-creds', target: '/home/user/.claude/.credentials.json', uid: 0, gid: 0, mode: 0o444 }],
      user: '1000:1000',
      cap_drop: ['ALL'],
      no_new_privileges: true,
      resource_limits: { pids: { limit: 256 }, memory: { limit: 536870912 }, cpu: { quota: 100000, period: 100000 } },
      netns: { nsmode: 'none' },
      mounts: [
        { destination: '/home/user', source: '/state/sessions/s', type: 'bind', options: ['rbind'] },
        { destination: '/workspace', source: '/srv/app', type: 'bind', options: ['rbind', 'ro', 'z'] },
      ],
      work_dir: '/workspace',
      timeout: 90,
      log_configuration: { driver: 'k8s-file', path: '/state/logs/attempt-1.k8s.log' },
    });
  });

  it('sends the entrypoint the CLI path passes as --entrypoint, and none when the image keeps its own', () => {
    const entrypoint = ['/bin/sh', '-c', 'exec "$@"', 'hooks'];
    const args = buildPodmanRunArgs({ ...spec, entrypoint });
    expect(JSON.parse(args[args.indexOf('--entrypoint') + 1] ?? '')).toEqual(buildCreateBody({ ...spec, entrypoint }).entrypoint);
    expect(buildCreateBody(spec)).not.toHaveProperty('entrypoint');
  });

  it('means what the argv of the CLI path means (parity, flag by flag)', () => {
    const args = buildPodmanRunArgs(spec);
    const body = buildCreateBody(spec);
    const values = (flag: string): string[] => args.flatMap((a, i) => (a === flag ? [args[i + 1] ?? ''] : []));
    expect(values('--name')).toEqual([body.name]);
    expect(values('--label')).toEqual(Object.entries(body.labels).map(([k, v]) => `${k}=${v}`));
    expect(values('-e')).toEqual(Object.entries(body.env).map(([k, v]) => `${k}=${v}`));
    expect(values('--user')).toEqual([body.user]);
    expect(values('--cap-drop')).toEqual(body.cap_drop);
    expect(values('--security-opt')).toEqual(body.no_new_privileges ? ['no-new-privileges'] : []);
    expect(values('--pids-limit').map(Number)).toEqual([body.resource_limits.pids.limit]);
    expect(values('--memory').map(memoryBytes)).toEqual([body.resource_limits.memory?.limit]);
    expect(values('--cpus').map((c) => Number(c) * 100_000)).toEqual([body.resource_limits.cpu?.quota]);
    expect(values('--network')).toEqual([body.netns?.nsmode]);
    expect(values('--timeout').map(Number)).toEqual([body.timeout]);
    expect(values('-w')).toEqual([body.work_dir]);
    const secrets = values('--secret').map((s) => s.split(','));
    expect(secrets.filter((s) => s[1] === 'type=env').map((s) => [s[2]?.slice('target='.length), s[0]])).toEqual(Object.entries(body.secret_env));
    expect(secrets.filter((s) => s[1] === 'type=mount').map((s) => ({ source: s[0], target: s[2]?.slice('target='.length) }))).toEqual(body.secrets.map((s) => ({ source: s.source, target: s.target })));
    const volume = (m: { source: string; destination: string; options: string[] }): string => {
      const extra = m.options.filter((o) => o !== 'rbind');
      return extra.length === 0 ? `${m.source}:${m.destination}` : `${m.source}:${m.destination}:${extra.join(',')}`;
    };
    expect(values('-v')).toEqual(body.mounts.map(volume));
    expect(args.slice(args.indexOf(spec.image) + 1)).toEqual(body.command);
  });

  it('carries no secret value: secrets travel by name only', () => {
    const text = JSON.stringify(buildCreateBody(spec));
    expect(text).toContain('"ANTHROPIC_API_KEY":"stromboli-anthropic-api-key"');
    expect(text).not.toMatch(/sk-ant/);
  });

  it('refuses what the argv builder refuses, and values the API cannot carry', () => {
    expect(() => buildCreateBody({ ...spec, env: { ANTHROPIC_API_KEY: 'x' } })).toThrow(RangeError);
    expect(() => buildCreateBody({ ...spec, memory: 'lots' })).toThrow(RangeError);
    expect(() => buildCreateBody({ ...spec, cpus: '-1' })).toThrow(RangeError);
  });

  it('maps network names, unlimited pids and cpu shares', () => {
    expect(buildCreateBody({ ...spec, network: 'mynet' })).toMatchObject({ netns: { nsmode: 'bridge' }, networks: { mynet: {} } });
    expect(buildCreateBody({ ...spec, network: 'host' })).toMatchObject({ netns: { nsmode: 'host' } });
    expect(buildCreateBody({ ...spec, pidsLimit: -1 }).resource_limits.pids).toEqual({ limit: -1 });
    expect(buildCreateBody({ ...spec, cpuShares: 512 }).resource_limits.cpu).toEqual({ quota: 100000, period: 100000, shares: 512 });
    expect(memoryBytes('1g')).toBe(1024 ** 3);
    expect(memoryBytes('64k')).toBe(65536);
  });
});
