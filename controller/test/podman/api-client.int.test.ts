// The REST path against the real podman: the node agent's own `podman system service`, the
// libpod client over its socket, the create body checked by inspect against the container the
// CLI path makes from the same spec (libpod ignores unknown fields silently, so a typo would
// otherwise pass unseen), secrets by name, conmon's k8s file, died events; and the service
// killed -9 while a run's container runs: restarted, and the run still ends Succeeded.
// Every container carries this suite's label and is removed by it.
// Run: npx vitest run --project podman controller/test/podman/api-client.int.test.ts
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ExecaExecutor } from '../../src/exec/execa-executor.ts';
import { buildPodmanRunArgs } from '../../src/podman/args.ts';
import type { PodmanRunSpec } from '../../src/podman/args.ts';
import { PodmanClient } from '../../src/podman/client.ts';
import type { DiedEvent } from '../../src/podman/container-events.ts';
import { buildCreateBody } from '../../src/podman/create-body.ts';
import { startPodmanApi } from '../../src/podman/podman-api.ts';
import type { PodmanApi } from '../../src/podman/podman-api.ts';
import { parseK8sLog } from '../../src/runner/k8s-log.ts';
import { Cleanup } from '../helpers/cleanup.ts';
import { ensureFakeImage, inspectContainer, listContainers, podman } from '../helpers/podman.ts';
import { CONTAINERS_CONF, FAKE_IMAGE } from '../helpers/repo.ts';
import { agentRun, attemptLogPath, readLogEvents, storeReader, waitForPhase, writeManifest } from '../helpers/runs.ts';
import { startTestServer } from '../helpers/embedded-server.ts';
import { createTempDirs } from '../helpers/temp-dirs.ts';

const SUITE = randomBytes(4).toString('hex');
const SUITE_LABEL = 'stromboli.test/api-int';
const OWNER = `api-int-${SUITE}`;
const cleanup = new Cleanup();
let dir: string;
let api: PodmanApi;
const died: DiedEvent[] = [];
const cli = new PodmanClient({ executor: new ExecaExecutor(), env: { CONTAINERS_CONF } });

async function removeSuiteContainers(): Promise<void> {
  for (const c of await listContainers({ [SUITE_LABEL]: SUITE }, { all: true })) await podman(['rm', '--force', '--time', '0', c.id]);
}

beforeAll(async () => {
  await ensureFakeImage();
  dir = await mkdtemp(join(tmpdir(), 'api-int-'));
  const started = await startPodmanApi({
    executor: new ExecaExecutor(),
    socketPath: join(dir, 'podman.sock'),
    owner: OWNER,
    env: { CONTAINERS_CONF },
    onDied: (e) => died.push(e),
    onResumed: () => undefined,
  });
  if (!started.ok) throw new Error(`the podman service did not start: ${started.reason}`);
  api = started.api;
});
afterEach(async () => {
  await cleanup.run();
  await removeSuiteContainers();
});
afterAll(async () => {
  await api.close();
  await removeSuiteContainers();
  await rm(dir, { recursive: true, force: true });
});

function spec(name: string, prompt: string, over: Partial<PodmanRunSpec> = {}): PodmanRunSpec {
  return {
    name,
    image: FAKE_IMAGE,
    command: ['-p', '--output-format', 'stream-json', '--verbose', '--', prompt],
    labels: { [SUITE_LABEL]: SUITE, 'stromboli.dev/owner': OWNER },
    env: { HOME: '/tmp' },
    secrets: [],
    mounts: [],
    user: '1000:1000',
    memory: '512m',
    cpus: '1',
    pidsLimit: 256,
    timeoutSeconds: 60,
    detach: true,
    ...over,
  };
}

// The fields that make a container safe, as podman reports them.
function securityOf(inspect: Record<string, unknown> | undefined): unknown {
  const host = (inspect?.['HostConfig'] ?? {}) as Record<string, unknown>;
  const config = (inspect?.['Config'] ?? {}) as Record<string, unknown>;
  return {
    capDrop: host['CapDrop'],
    capAdd: host['CapAdd'],
    securityOpt: host['SecurityOpt'],
    user: config['User'],
    pidsLimit: host['PidsLimit'],
    memory: host['Memory'],
    cpuQuota: host['CpuQuota'],
    cpuPeriod: host['CpuPeriod'],
    timeout: config['Timeout'],
    labels: config['Labels'],
  };
}

describe('PodmanApiClient against podman system service', () => {
  it('creates the same hardened container as the CLI path (checked by inspect), runs it with conmon logging to our file, and hears it die', async () => {
    const secretName = `strom-api-it-${SUITE}`;
    const secretValue = `value-${randomBytes(8).toString('hex')}`;
    await cli.createSecret(secretName, secretValue);
    cleanup.add(`remove secret ${secretName}`, () => cli.removeSecret(secretName));
    const secrets = [{ name: secretName, target: 'STROMBOLI_IT_SECRET' }];
    const viaApi = spec(`strom-api-it-${SUITE}-a`, 'hello [fake:sleep=0.5]', { secrets });
    const viaCli = spec(`strom-api-it-${SUITE}-c`, 'hello [fake:sleep=0.5]', { secrets });
    const logPath = join(dir, 'a.k8s.log');

    await api.client.create(buildCreateBody(viaApi, { logPath }));
    await cli.run(buildPodmanRunArgs(viaCli));
    await api.client.start(viaApi.name);
    const a = await inspectContainer(viaApi.name);
    const c = await inspectContainer(viaCli.name);
    expect(securityOf(a)).toEqual(securityOf(c));
    expect(securityOf(a)).toMatchObject({ securityOpt: expect.arrayContaining(['no-new-privileges']), user: '1000:1000', pidsLimit: 256, memory: 536870912 });
    // The secret reached the container by name (never in the create body).
    expect(JSON.stringify(buildCreateBody(viaApi))).not.toContain(secretValue);
    const env = ((a?.['Config'] as Record<string, unknown> | undefined)?.['Env'] ?? []) as string[];
    expect(env.some((e) => e === `STROMBOLI_IT_SECRET=${secretValue}`)).toBe(true);

    expect((await api.client.listByLabel({ [SUITE_LABEL]: SUITE })).map((x) => x.name).sort()).toEqual([viaApi.name, viaCli.name].sort());
    await expect.poll(() => died.map((e) => e.name), { timeout: 30_000 }).toContain(viaApi.name);
    expect(died.find((e) => e.name === viaApi.name)?.exitCode).toBe(0);
    const state = await api.client.inspect(viaApi.name);
    expect(state).toMatchObject({ status: 'exited', exitCode: 0, running: false });
    const transcript = parseK8sLog(await readFile(logPath, 'utf8')).stdout.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(transcript.at(-1)).toMatchObject({ type: 'result', result: 'echo: hello [fake:sleep=0.5]' });

    await api.client.remove(viaApi.name, { force: true });
    expect(await api.client.inspect(viaApi.name)).toBeUndefined();
    await api.client.remove(viaApi.name); // missing: fine
    expect(await api.client.imageExists(FAKE_IMAGE)).toBe(true);
    expect(await api.client.imageExists('localhost/stromboli/none:latest')).toBe(false);
    expect(await api.client.secretExists(secretName)).toBe(true);
  });

  it('stops a running container (SIGTERM, then SIGKILL after the grace period)', async () => {
    const hung = spec(`strom-api-it-${SUITE}-h`, 'wait [fake:hang]');
    await api.client.create(buildCreateBody(hung, { logPath: join(dir, 'h.k8s.log') }));
    await api.client.start(hung.name);
    expect(await api.client.inspect(hung.name)).toMatchObject({ running: true });
    await api.client.stop(hung.name, 5);
    expect(await api.client.inspect(hung.name)).toMatchObject({ running: false, exitCode: 143 });
  });
});

describe('the node agent podman service killed -9 mid-run', () => {
  it('is restarted by its supervisor, the container keeps running, and the run ends Succeeded', async () => {
    const dirs = await createTempDirs(cleanup, 'api-svc');
    const server = await startTestServer(cleanup, dirs, { pollMs: 1000 });
    const prompt = 'Outlive the podman service [fake:sleep=4]';
    await writeManifest(dirs.runsDir, 'svc.yaml', agentRun('svc', { prompt }));
    const read = storeReader(server.get, 'svc');
    await waitForPhase(read, 'Running', 'Running', { timeoutMs: 60_000 });
    const pidFile = join(dirs.stateDir, 'podman.sock.pid');
    const pid = Number(await readFile(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(1);
    process.kill(pid, 'SIGKILL');
    const done = await waitForPhase(read, 'Succeeded', 'Succeeded', { timeoutMs: 90_000 });
    expect(done.status?.result).toBe(`echo: ${prompt}`);
    expect(done.status?.attempt).toBe(1);
    const events = await readLogEvents(attemptLogPath(dirs.stateDir, done));
    expect(events.filter((e) => e['type'] === 'result')).toHaveLength(1);
    // A new service answers on the same socket, under a new pid.
    await expect.poll(async () => Number(await readFile(pidFile, 'utf8').catch(() => '0')), { timeout: 30_000 }).not.toBe(pid);
    expect(server.logs.withMessage('podman service exited; restarting')).toHaveLength(1);
  });
});
