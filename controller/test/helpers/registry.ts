// A real container registry on loopback for the image tests: the CNCF distribution registry that
// test-infra/registry/setup.sh builds (no registry is reachable from these machines). Each call
// starts its own process on a free 127.0.0.1 port with filesystem storage in a temp dir, and
// registers a cleanup that stops it and removes the dir. A registry that cannot start throws.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cleanup } from './cleanup.ts';
import { runCommand } from './podman.ts';
import { REPO_ROOT } from './repo.ts';

/** The version test-infra/registry/setup.sh builds by default. */
const REGISTRY_VERSION = process.env['STROMBOLI_REGISTRY_VERSION'] ?? '3.1.2';

export interface TestRegistry {
  /** 127.0.0.1:PORT, as podman and --image-registry name it. */
  host: string;
  /** Stops the registry now (the cleanup then only removes its storage). Idempotent. */
  stop(): Promise<void>;
}

/** The registry binary: STROMBOLI_REGISTRY, else the cached build (built now by setup.sh when missing). */
export async function registryBinary(): Promise<string> {
  const named = process.env['STROMBOLI_REGISTRY'];
  if (named !== undefined && named !== '') return named;
  const cacheRoot = process.env['STROMBOLI_KUBE_CACHE'] ?? join(REPO_ROOT, '.cache/kube');
  const binary = join(cacheRoot, 'bin', `registry-v${REGISTRY_VERSION}`, 'registry');
  if (existsSync(binary)) return binary;
  const setup = await runCommand('bash', [join(REPO_ROOT, 'test-infra/registry/setup.sh')], 900_000);
  if (setup.exitCode !== 0 || !existsSync(binary)) throw new Error(`the test registry could not be set up (test-infra/registry/setup.sh exited ${setup.exitCode}): ${setup.stderr.trim()}`);
  return binary;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Starts a registry and waits until its /v2/ answers 200. */
export async function startRegistry(cleanup: Cleanup): Promise<TestRegistry> {
  const binary = await registryBinary();
  const dir = await mkdtemp(join(tmpdir(), 'stromboli-registry-'));
  cleanup.add(`remove the registry storage ${dir}`, () => rm(dir, { recursive: true, force: true }));
  const host = `127.0.0.1:${await freePort()}`;
  const config = join(dir, 'config.yml');
  await writeFile(config, ['version: 0.1', 'log:', '  level: warn', 'storage:', '  filesystem:', `    rootdirectory: ${join(dir, 'data')}`, 'http:', `  addr: ${host}`, ''].join('\n'));
  const child = spawn(binary, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = once(child, 'exit');
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    })());
  cleanup.add(`stop the registry on ${host}`, stop);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the registry on ${host} exited ${child.exitCode}: ${stderr.trim()}`);
    const ok = await fetch(`http://${host}/v2/`).then((r) => r.status === 200, () => false);
    if (ok) return { host, stop };
    if (Date.now() > deadline) throw new Error(`the registry on ${host} did not answer /v2/ within 30 s: ${stderr.trim()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
