import { describe, expect, it } from 'vitest';
import { PodmanOptionsSchema } from '../../../contract/apis/v1alpha1/index.ts';
import { everyPodmanOption } from '../../../contract/apis/v1alpha1/podman-fixtures.ts';
import { LIFECYCLE_CAMEL_TO_SNAKE, PODMAN_OPTIONS_CAMEL_TO_SNAKE, podmanOptionsFromSnake } from './podman-wire.ts';

describe('podmanOptionsFromSnake', () => {
  it('maps every schema field, including the lifecycle keys', () => {
    expect(Object.keys(PODMAN_OPTIONS_CAMEL_TO_SNAKE).sort()).toEqual(Object.keys(PodmanOptionsSchema.shape).sort());
    expect(Object.keys(LIFECYCLE_CAMEL_TO_SNAKE).sort()).toEqual(['hooksTimeout', 'onCreateCommand', 'postCreate', 'postStart']);
  });

  it('turns a Stromboli podman object into options that parse', () => {
    const converted = podmanOptionsFromSnake({
      image: 'registry.example/library/python:3.12',
      volumes: ['/data:/data:ro'],
      secrets_env: { GH_TOKEN: 'github-token', ANTHROPIC_API_KEY: 'anthropic.key_1' },
      memory: '1g',
      cpus: '0.5',
      cpu_shares: 512,
      timeout: '1h30m',
      lifecycle: {
        on_create_command: ['pip install -r requirements.txt'],
        post_create: ['git config --global user.name bot'],
        post_start: ['echo ready'],
        hooks_timeout: '10m',
      },
    });
    expect(converted.ignoredKeys).toEqual([]);
    expect(PodmanOptionsSchema.parse(converted.options)).toEqual(everyPodmanOption);
  });

  it('drops null and empty strings (Go\'s "not set") and lists unknown keys, nested ones dotted', () => {
    expect(podmanOptionsFromSnake({ image: '', timeout: null, cpu_shares: 0, extra: 1, lifecycle: { post_start: ['x'], bogus: 1, hooks_timeout: '' } })).toEqual({
      options: { cpuShares: 0, lifecycle: { postStart: ['x'] } },
      ignoredKeys: ['extra', 'lifecycle.bogus'],
    });
  });

  it('ignores a plain-container environment and keeps a compose one, which the schema then refuses', () => {
    expect(podmanOptionsFromSnake({ environment: { type: '' } })).toEqual({ options: {}, ignoredKeys: ['environment'] });
    expect(podmanOptionsFromSnake({ environment: {} })).toEqual({ options: {}, ignoredKeys: ['environment'] });
    expect(podmanOptionsFromSnake({ environment: null })).toEqual({ options: {}, ignoredKeys: [] });
    const compose = podmanOptionsFromSnake({ environment: { type: 'compose', path: '/c.yml', service: 'dev' } });
    expect(compose.options).toEqual({ environment: { type: 'compose', path: '/c.yml', service: 'dev' } });
    expect(PodmanOptionsSchema.safeParse(compose.options).success).toBe(false);
  });

  it('returns a non-object unchanged so the schema reports it', () => {
    expect(podmanOptionsFromSnake('x')).toEqual({ options: 'x', ignoredKeys: [] });
  });
});
