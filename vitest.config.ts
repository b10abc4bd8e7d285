import { defineConfig } from 'vitest/config';

// Three projects (docs/testing.md): unit needs nothing installed; podman and kube need the
// real thing, which scripts/test.sh installs and starts. In CI a missing dependency fails.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['cmd/**/*.test.ts', 'contract/**/*.test.ts', 'controller/src/**/*.test.ts', 'api-server/src/**/*.test.ts', 'scripts/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'podman',
          include: ['controller/test/podman/**/*.int.test.ts', 'controller/test/e2e/**/*.int.test.ts', 'api-server/test/**/*.int.test.ts'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'kube',
          include: ['controller/test/kube/**/*.int.test.ts'],
          // Builds or reuses the binaries, starts one etcd + kube-apiserver per run (docs/testing.md).
          globalSetup: ['controller/test/kube/global-setup.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
