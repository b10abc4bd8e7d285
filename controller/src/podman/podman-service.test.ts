import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeExecutor } from '../exec/fake-executor.ts';
import { PodmanService } from './podman-service.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'svc-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const isService = (argv: readonly string[]) => argv[1] === 'system' && argv[2] === 'service';

describe('PodmanService', () => {
  it('starts `podman system service --time=0 unix://<socket>` through the Executor and is ready once /_ping answers', async () => {
    const executor = new FakeExecutor().onStream(isService, { untilAborted: true });
    let pings = 0;
    const service = new PodmanService({ executor, socketPath: join(dir, 'podman.sock'), ping: async () => (pings += 1) >= 3, pollMs: 1 });
    expect(await service.start()).toEqual({ ok: true });
    expect(executor.argvs).toEqual([['podman', 'system', 'service', '--time=0', `unix://${join(dir, 'podman.sock')}`]]);
    await service.close();
    expect(executor.calls[0]?.options.signal?.aborted).toBe(true);
  });

  it('says why when the service exits before it answers (the agent then keeps to the CLI)', async () => {
    const executor = new FakeExecutor().onStream(isService, { result: { exitCode: 125, stderr: 'Error: cannot listen\n' } });
    const service = new PodmanService({ executor, socketPath: join(dir, 'podman.sock'), ping: async () => false, pollMs: 1 });
    const started = await service.start();
    expect(started).toEqual({ ok: false, reason: 'podman system service exited (exit 125: Error: cannot listen)' });
  });

  it('gives up after readyTimeoutMs when nothing answers', async () => {
    const executor = new FakeExecutor().onStream(isService, { untilAborted: true });
    const service = new PodmanService({ executor, socketPath: join(dir, 'podman.sock'), ping: async () => false, pollMs: 1, readyTimeoutMs: 20 });
    expect(await service.start()).toMatchObject({ ok: false });
    expect(executor.calls[0]?.options.signal?.aborted).toBe(true);
  });

  it('restarts a service that died, with backoff, and tells who needs to know', async () => {
    const executor = new FakeExecutor().onStream(isService, {}, { times: 1 }).onStream(isService, { untilAborted: true });
    let restarts = 0;
    const service = new PodmanService({ executor, socketPath: join(dir, 'podman.sock'), ping: async () => true, pollMs: 1, backoff: { baseMs: 1, capMs: 2 }, onRestart: () => (restarts += 1) });
    expect(await service.start()).toEqual({ ok: true });
    await expect.poll(() => restarts).toBe(1);
    expect(executor.calls.filter((c) => isService(c.argv))).toHaveLength(2);
    await service.close();
  });

  it('ignores a pid file that names no service of this socket', async () => {
    const socketPath = join(dir, 'podman.sock');
    const executor = new FakeExecutor().onStream(isService, { untilAborted: true });
    const service = new PodmanService({ executor, socketPath, ping: async () => true });
    await import('node:fs/promises').then((fs) => fs.writeFile(service.pidFile, String(process.pid)));
    expect(await service.start()).toEqual({ ok: true });
    await service.close();
    await expect(readFile(service.pidFile, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
