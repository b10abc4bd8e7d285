import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { everyPodmanOption } from './podman-fixtures.ts';
import { LifecycleHooksSchema, PodmanOptionsSchema, isAllowedSecretEnvName, parseDuration } from './podman.ts';

function issuePaths(input: unknown): string[] {
  const result = PodmanOptionsSchema.safeParse(input);
  return result.success ? [] : [...new Set(result.error.issues.map((issue) => issue.path.join('.')))];
}

describe('parseDuration', () => {
  it.each([
    ['30m', 1_800_000],
    ['1h30m', 5_400_000],
    ['1h0m0s', 3_600_000],
    ['1.5s', 1500],
    ['.5s', 500],
    ['1.s', 1000],
    ['300ms', 300],
    ['100us', 0.1],
    ['1µs', 0.001],
    ['1μs', 0.001],
    ['1500ns', 0.0015],
    ['0.1h', 360_000],
    ['0', 0],
    ['+0', 0],
    ['-5m', -300_000],
    ['+5s', 5000],
    ['2h45m30.5s', 9_930_500],
  ])('reads %s as %s ms, as Go does', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '5', '1constructor', '1__proto__', '1toString', '5x', '5 m', '1h 30m', 's', '.s', '-', '1d', '1.5.5s', 'm5', '9999999h', '5m-1s', '0x10s'])('refuses %j, as Go does', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('PodmanOptionsSchema', () => {
  it('accepts every option at once and returns it unchanged', () => {
    expect(PodmanOptionsSchema.parse(everyPodmanOption)).toEqual(everyPodmanOption);
  });

  it('refuses unknown keys, including the snake_case spelling and compose environments', () => {
    expect(issuePaths({ cpu_shares: 2 })).toEqual(['']);
    expect(issuePaths({ environment: { type: 'compose' } })).toEqual(['']);
    expect(issuePaths({ lifecycle: { post_start: ['x'] } })).toEqual(['lifecycle']);
  });

  it('describes every field, so the CRD documents each option and its default', () => {
    const json = z.toJSONSchema(PodmanOptionsSchema, { io: 'input' });
    for (const [key, property] of Object.entries(json.properties ?? {})) {
      expect(typeof property === 'object' ? property.description : undefined, key).toMatch(/Default/);
    }
    const lifecycle = z.toJSONSchema(LifecycleHooksSchema);
    for (const [key, property] of Object.entries(lifecycle.properties ?? {})) {
      expect(typeof property === 'object' ? property.description : undefined, key).toMatch(/Default/);
    }
  });

  it.each(['--privileged', '-x', 'python 3', 'python:3.12;rm', '', 'a'.repeat(513)])('refuses the image %j', (image) => {
    expect(issuePaths({ image })).toEqual(['image']);
  });

  it.each(['python:3.12', 'localhost/stromboli/agent:latest', 'ghcr.io/a/b@sha256:0123abcd', 'registry:5000/x/y:1.0'])('accepts the image %s', (image) => {
    expect(issuePaths({ image })).toEqual([]);
  });

  it('bounds volumes and refuses NUL (the format itself is checked against the host by the runner)', () => {
    expect(issuePaths({ volumes: Array.from({ length: 64 }, () => '/a:/b') })).toEqual([]);
    expect(issuePaths({ volumes: Array.from({ length: 65 }, () => '/a:/b') })).toEqual(['volumes']);
    expect(issuePaths({ volumes: ['/a\u0000:/b'] })).toEqual(['volumes.0']);
  });

  describe('secretsEnv', () => {
    it.each(['1ABC', 'A-B', 'A B', '', 'A=B'])('refuses the env name %j', (name) => {
      expect(PodmanOptionsSchema.safeParse({ secretsEnv: { [name]: 'secret' } }).success).toBe(false);
    });

    it.each(['LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'HOME', 'PATH'])('refuses %s as a secret target', (name) => {
      expect(isAllowedSecretEnvName(name)).toBe(false);
      expect(PodmanOptionsSchema.safeParse({ secretsEnv: { [name]: 'secret' } }).success).toBe(false);
    });

    it.each(['GH_TOKEN', '_X', 'ANTHROPIC_API_KEY', 'ld_preload_like', 'LDX'])('accepts %s as a secret target', (name) => {
      expect(isAllowedSecretEnvName(name)).toBe(true);
      expect(issuePaths({ secretsEnv: { [name]: 'secret' } })).toEqual([]);
    });

    it.each(['a,type=mount', 'a b', '-a', '', 'a'.repeat(254), 'a/b'])('refuses the secret name %j (a "," would add --secret options)', (secret) => {
      expect(issuePaths({ secretsEnv: { X: secret } })).toEqual(['secretsEnv.X']);
    });

    it('accepts a 253-character secret name and refuses more than 50 secrets', () => {
      expect(issuePaths({ secretsEnv: { X: 'a'.repeat(253) } })).toEqual([]);
      const fifty = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`S${i}`, 's']));
      expect(issuePaths({ secretsEnv: fifty })).toEqual([]);
      expect(issuePaths({ secretsEnv: { ...fifty, S50: 's' } })).toEqual(['secretsEnv']);
    });
  });

  it.each(['512m', '1g', '2G', '1024k', '1.5g', '1gb', '1GiB', '1048576', '512mb'])('accepts the memory %s', (memory) => {
    expect(issuePaths({ memory })).toEqual([]);
  });

  it.each(['', '0', '0m', 'lots', '-1g', '1 g', '1x', '1.g'])('refuses the memory %j', (memory) => {
    expect(issuePaths({ memory })).toEqual(['memory']);
  });

  it.each(['1', '0.5', '2.25', '.5', '16'])('accepts the cpus %s', (cpus) => {
    expect(issuePaths({ cpus })).toEqual([]);
  });

  it.each(['', '0', '0.0', '-1', 'two', '1e3', '1,5'])('refuses the cpus %j', (cpus) => {
    expect(issuePaths({ cpus })).toEqual(['cpus']);
  });

  it('bounds cpuShares to the kernel range', () => {
    expect(issuePaths({ cpuShares: 2 })).toEqual([]);
    expect(issuePaths({ cpuShares: 262_144 })).toEqual([]);
    for (const cpuShares of [0, 1, 262_145, 1.5, -5]) expect(issuePaths({ cpuShares }), String(cpuShares)).toEqual(['cpuShares']);
  });

  it.each(['30s', '5m', '1h', '1h30m', '168h', '0.5h'])('accepts the timeout %s', (timeout) => {
    expect(issuePaths({ timeout })).toEqual([]);
  });

  it.each(['', '0', '0s', '-5m', '30', '169h', '1d', 'soon'])('refuses the timeout %j', (timeout) => {
    expect(issuePaths({ timeout })).toEqual(['timeout']);
  });

  describe('lifecycle', () => {
    const hooks = (lifecycle: unknown) => issuePaths({ lifecycle });

    it('accepts 100 entries per hook and refuses 101', () => {
      expect(hooks({ postStart: Array.from({ length: 100 }, () => 'true') })).toEqual([]);
      expect(hooks({ postStart: Array.from({ length: 101 }, () => 'true') })).toEqual(['lifecycle.postStart']);
    });

    it('accepts 4096-character entries and refuses longer, empty or NUL ones', () => {
      expect(hooks({ onCreateCommand: ['x'.repeat(4096)] })).toEqual([]);
      expect(hooks({ onCreateCommand: ['x'.repeat(4097)] })).toEqual(['lifecycle.onCreateCommand.0']);
      expect(hooks({ postCreate: [''] })).toEqual(['lifecycle.postCreate.0']);
      expect(hooks({ postCreate: ['a\u0000b'] })).toEqual(['lifecycle.postCreate.0']);
    });

    it('refuses more than 200 entries in total', () => {
      const hundred = Array.from({ length: 100 }, () => 'true');
      expect(hooks({ onCreateCommand: hundred, postCreate: hundred })).toEqual([]);
      expect(hooks({ onCreateCommand: hundred, postCreate: hundred, postStart: ['true'] })).toEqual(['lifecycle']);
    });

    it('refuses more than 65,536 characters in total', () => {
      const sixteen = Array.from({ length: 16 }, () => 'x'.repeat(4096));
      expect(hooks({ postStart: sixteen })).toEqual([]);
      expect(hooks({ postStart: sixteen, postCreate: ['y'] })).toEqual(['lifecycle']);
    });

    it('accepts a hooksTimeout up to 1h and refuses zero, negative or longer ones', () => {
      expect(hooks({ hooksTimeout: '1h' })).toEqual([]);
      expect(hooks({ hooksTimeout: '90s' })).toEqual([]);
      for (const hooksTimeout of ['0s', '-1m', '61m', '', 'x']) expect(hooks({ hooksTimeout }), hooksTimeout).toEqual(['lifecycle.hooksTimeout']);
    });
  });
});
