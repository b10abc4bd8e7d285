// Test data shared by the schema's tests and the facade's wire-format tests: one valid value for
// every podman option, lifecycle hooks included.
import type { PodmanOptions } from './podman.ts';

/** One value for every option, all valid. */
export const everyPodmanOption: Required<PodmanOptions> = {
  image: 'registry.example/library/python:3.12',
  volumes: ['/data:/data:ro'],
  secretsEnv: { GH_TOKEN: 'github-token', ANTHROPIC_API_KEY: 'anthropic.key_1' },
  memory: '1g',
  cpus: '0.5',
  cpuShares: 512,
  timeout: '1h30m',
  lifecycle: {
    onCreateCommand: ['pip install -r requirements.txt'],
    postCreate: ['git config --global user.name bot'],
    postStart: ['echo ready'],
    hooksTimeout: '10m',
  },
};
