import { describe, expect, it } from 'vitest';
import { DEFAULT_PIDS_LIMIT, DEFAULT_USER, HARDENING_ARGS, buildPodmanRunArgs } from './args.ts';
import type { PodmanRunSpec } from './args.ts';

/** The smallest spec: every optional field left to its default. */
const minimal: PodmanRunSpec = {
  name: 'stromboli-default-run1-abc123-1',
  image: 'localhost/stromboli/agent:latest',
  command: ['claude', '-p', '--', 'hi'],
  labels: {},
  env: {},
  secrets: [],
  mounts: [],
  detach: true,
};

function withSpec(patch: Partial<PodmanRunSpec>): PodmanRunSpec {
  return { ...minimal, ...patch };
}

const minimalArgs = [
  'run',
  '--name',
  'stromboli-default-run1-abc123-1',
  '-d',
  '--pull',
  'never',
  '--user',
  '1000:1000',
  '--cap-drop',
  'ALL',
  '--security-opt',
  'no-new-privileges',
  '--pids-limit',
  '256',
  'localhost/stromboli/agent:latest',
  'claude',
  '-p',
  '--',
  'hi',
];

describe('buildPodmanRunArgs', () => {
  it('builds the minimal argv with the safe defaults: non-root user, no capabilities, no new privileges, a pids limit, no --rm', () => {
    expect(buildPodmanRunArgs(minimal)).toEqual(minimalArgs);
    expect(DEFAULT_USER).toBe('1000:1000');
    expect(DEFAULT_PIDS_LIMIT).toBe(256);
    expect(HARDENING_ARGS).toEqual(['--cap-drop', 'ALL', '--security-opt', 'no-new-privileges']);
  });

  it('builds every flag in its fixed order', () => {
    const spec: PodmanRunSpec = {
      name: 'run-1',
      image: 'registry.example/library/python:3.12',
      command: ['claude', '-p', '--model', 'opus', '--', 'go'],
      labels: { 'stromboli.dev/uid': 'u-1', 'stromboli.dev/attempt': '2' },
      env: { ZED: 'last', HOME: '/home/user', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' },
      secrets: [
        { name: 'gh', target: 'GH_TOKEN' },
        { name: 'claude-credentials', target: '/home/user/.claude/.credentials.json', type: 'mount' },
        { name: 'anthropic', target: 'ANTHROPIC_API_KEY', type: 'env' },
      ],
      mounts: [
        { source: '/srv/sessions/s1', target: '/home/user' },
        { source: '/srv/data', target: '/data', readOnly: true, options: ['z'] },
      ],
      user: '1001:1001',
      userns: 'keep-id',
      workdir: '/data/project',
      memory: '512m',
      cpus: '1',
      cpuShares: 512,
      pidsLimit: 128,
      network: 'slirp4netns',
      timeoutSeconds: 1830,
      detach: true,
      remove: true,
      readOnlyRootfs: true,
      tmpfs: [{ target: '/tmp', options: ['rw', 'size=64m'] }, { target: '/var/tmp' }],
      init: true,
    };
    expect(buildPodmanRunArgs(spec)).toEqual([
      'run',
      '--name', 'run-1',
      '-d',
      '--rm',
      '--pull', 'never',
      '--label', 'stromboli.dev/attempt=2',
      '--label', 'stromboli.dev/uid=u-1',
      '--userns', 'keep-id',
      '--user', '1001:1001',
      '--cap-drop', 'ALL',
      '--security-opt', 'no-new-privileges',
      '--pids-limit', '128',
      '--read-only',
      '--tmpfs', '/tmp:rw,size=64m',
      '--tmpfs', '/var/tmp',
      '--init',
      '--network', 'slirp4netns',
      '--memory', '512m',
      '--cpus', '1',
      '--cpu-shares', '512',
      '--timeout', '1830',
      '-e', 'ANTHROPIC_BASE_URL=http://127.0.0.1:9',
      '-e', 'HOME=/home/user',
      '-e', 'ZED=last',
      '--secret', 'claude-credentials,type=mount,target=/home/user/.claude/.credentials.json',
      '--secret', 'anthropic,type=env,target=ANTHROPIC_API_KEY',
      '--secret', 'gh,type=env,target=GH_TOKEN',
      '-v', '/srv/sessions/s1:/home/user',
      '-v', '/srv/data:/data:ro,z',
      '-w', '/data/project',
      'registry.example/library/python:3.12',
      'claude', '-p', '--model', 'opus', '--', 'go',
    ]);
  });

  it('sorts env, labels and secrets by code unit whatever their insertion order', () => {
    const a = withSpec({
      env: { b: '1', A: '2', a: '3', _x: '4' },
      labels: { z: '1', 'a.b/c': '2', Z: '3' },
      secrets: [{ name: 's2', target: 'S_B' }, { name: 's1', target: 'S_A' }],
    });
    const b = withSpec({
      env: { _x: '4', a: '3', A: '2', b: '1' },
      labels: { Z: '3', 'a.b/c': '2', z: '1' },
      secrets: [{ name: 's1', target: 'S_A' }, { name: 's2', target: 'S_B' }],
    });
    const args = buildPodmanRunArgs(a);
    expect(buildPodmanRunArgs(b)).toEqual(args);
    expect(args.filter((_, i) => args[i - 1] === '-e')).toEqual(['A=2', '_x=4', 'a=3', 'b=1']);
    expect(args.filter((_, i) => args[i - 1] === '--label')).toEqual(['Z=3', 'a.b/c=2', 'z=1']);
    expect(args.filter((_, i) => args[i - 1] === '--secret')).toEqual(['s1,type=env,target=S_A', 's2,type=env,target=S_B']);
  });

  it('keeps mounts and tmpfs in the given order (parents before children)', () => {
    const args = buildPodmanRunArgs(withSpec({ mounts: [{ source: '/z', target: '/w' }, { source: '/a', target: '/w/sub' }] }));
    expect(args.filter((_, i) => args[i - 1] === '-v')).toEqual(['/z:/w', '/a:/w/sub']);
  });

  it('leaves out -d when not detached and adds --rm only when asked', () => {
    expect(buildPodmanRunArgs(withSpec({ detach: false }))).toEqual(minimalArgs.filter((arg) => arg !== '-d'));
    expect(buildPodmanRunArgs(withSpec({ remove: false }))).toEqual(minimalArgs);
    expect(buildPodmanRunArgs(withSpec({ remove: true })).slice(0, 7)).toEqual(['run', '--name', minimal.name, '-d', '--rm', '--pull', 'never']);
  });

  it('replaces the entrypoint with the exec form, right before the image, only when asked', () => {
    const args = buildPodmanRunArgs(withSpec({ entrypoint: ['/bin/sh', '-c', 'exec "$@"', 'hooks'] }));
    expect(args.slice(-7)).toEqual(['--entrypoint', '["/bin/sh","-c","exec \\"$@\\"","hooks"]', 'localhost/stromboli/agent:latest', 'claude', '-p', '--', 'hi']);
    expect(buildPodmanRunArgs(withSpec({}))).not.toContain('--entrypoint');
    expect(() => buildPodmanRunArgs(withSpec({ entrypoint: [] }))).toThrow(RangeError);
  });

  it('writes ro first for a read-only mount and never twice', () => {
    const args = buildPodmanRunArgs(withSpec({ mounts: [{ source: '/a', target: '/b', readOnly: true, options: ['Z', 'ro', 'nosuid'] }] }));
    expect(args).toContain('/a:/b:ro,Z,nosuid');
    expect(buildPodmanRunArgs(withSpec({ mounts: [{ source: '/a', target: '/b', options: ['rw'] }] }))).toContain('/a:/b:rw');
  });

  it('accepts pids limit -1 and 0 (unlimited) and passes them through', () => {
    expect(buildPodmanRunArgs(withSpec({ pidsLimit: -1 }))).toContain('-1');
    expect(buildPodmanRunArgs(withSpec({ pidsLimit: 0 })).join(' ')).toContain('--pids-limit 0');
  });

  it('keeps command arguments that start with "-" after the image, where podman no longer parses flags', () => {
    const args = buildPodmanRunArgs(withSpec({ command: ['--privileged', '-v', '/:/host'] }));
    expect(args.slice(-4)).toEqual([minimal.image, '--privileged', '-v', '/:/host']);
  });

  it('does not change its input', () => {
    const spec = withSpec({ env: { B: '1', A: '2' }, secrets: [{ name: 'b', target: 'B2' }, { name: 'a', target: 'A2' }] });
    const snapshot = structuredClone(spec);
    buildPodmanRunArgs(spec);
    expect(spec).toEqual(snapshot);
  });

  describe('secrets', () => {
    it('never lets a secret value reach argv: secrets carry names only', () => {
      const secretValue = 'ghp_s3cr3tValueThatMustNotLeak';
      const spec = withSpec({
        env: { PUBLIC: 'visible' },
        secrets: [
          { name: 'github-token', target: 'GH_TOKEN' },
          { name: 'claude-credentials', target: '/home/user/.claude/.credentials.json', type: 'mount' },
        ],
      });
      const args = buildPodmanRunArgs(spec);
      expect(args.filter((arg) => arg.includes(secretValue))).toEqual([]);
      expect(args.filter((_, i) => args[i - 1] === '--secret')).toEqual([
        'claude-credentials,type=mount,target=/home/user/.claude/.credentials.json',
        'github-token,type=env,target=GH_TOKEN',
      ]);
      expect(args.filter((arg) => arg.startsWith('GH_TOKEN'))).toEqual([]);
      // @ts-expect-error a secret reference has no value field: values never enter the spec
      const withValue: PodmanRunSpec['secrets'][number] = { name: 'github-token', target: 'GH_TOKEN', value: secretValue };
      expect(withValue.name).toBe('github-token');
    });

    it('refuses a plain env variable that would shadow a secret', () => {
      expect(() => buildPodmanRunArgs(withSpec({ env: { GH_TOKEN: 'x' }, secrets: [{ name: 'gh', target: 'GH_TOKEN' }] }))).toThrow(RangeError);
    });

    it('refuses two secrets with the same target', () => {
      expect(() => buildPodmanRunArgs(withSpec({ secrets: [{ name: 'a', target: 'X' }, { name: 'b', target: 'X' }] }))).toThrow(/two secrets/);
    });
  });

  describe('refuses values that would change the meaning of argv (a caller skipped validation)', () => {
    it.each<[string, Partial<PodmanRunSpec>]>([
      ['an image that starts with "-"', { image: '--privileged' }],
      ['an empty image', { image: '' }],
      ['a name that starts with "-"', { name: '-x' }],
      ['a user that starts with "-"', { user: '--privileged' }],
      ['a network that starts with "-"', { network: '-x' }],
      ['an env name with "="', { env: { 'A=B': 'x' } }],
      ['an env name with a space', { env: { 'A B': 'x' } }],
      ['an env value with NUL', { env: { A: 'x\u0000y' } }],
      ['a label key with "="', { labels: { 'a=b': 'x' } }],
      ['an empty label key', { labels: { '': 'x' } }],
      ['a secret name with ","', { secrets: [{ name: 'a,target=/etc/x', target: 'X' }] }],
      ['an env secret target that is not an env name', { secrets: [{ name: 'a', target: 'X,type=mount' }] }],
      ['a mount secret target that is not absolute', { secrets: [{ name: 'a', target: 'relative', type: 'mount' }] }],
      ['a mount source with ":"', { mounts: [{ source: '/a:/etc', target: '/b' }] }],
      ['a relative mount target', { mounts: [{ source: '/a', target: 'b' }] }],
      ['a mount option with ","', { mounts: [{ source: '/a', target: '/b', options: ['ro,U'] }] }],
      ['a read-only mount with rw', { mounts: [{ source: '/a', target: '/b', readOnly: true, options: ['rw'] }] }],
      ['a tmpfs option with ":"', { tmpfs: [{ target: '/tmp', options: ['a:b'] }] }],
      ['a relative workdir', { workdir: 'work' }],
      ['a zero timeout', { timeoutSeconds: 0 }],
      ['a fractional timeout', { timeoutSeconds: 1.5 }],
      ['a fractional cpu share', { cpuShares: 1.5 }],
      ['a pids limit below -1', { pidsLimit: -2 }],
      ['a command argument with NUL', { command: ['a\u0000b'] }],
    ])('%s', (_name, patch) => {
      expect(() => buildPodmanRunArgs(withSpec(patch))).toThrow(RangeError);
    });
  });
});
