// Session affinity across node agents (issue 11, docs/multi-node.md "Session affinity"): two real
// agent processes, each with its own state directory (so its own sessions/), on one podman with
// the fake Claude image, which fails a --resume whose conversation is not in its HOME:
// - a run resuming a session goes to the agent that ran the session's first run, even while that
//   agent is busy and the other one is idle, and succeeds there;
// - when that agent is gone (kill -9, its Lease expired), the resumed run waits Pending with
//   reason SessionNodeUnavailable naming it; an agent started with --shared-sessions takes it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { reasonOf } from '../../../contract/apis/v1alpha1/index.ts';
import { startTestControlPlane } from '../../../test-infra/kube/harness.ts';
import type { TestControlPlane } from '../../../test-infra/kube/harness.ts';
import { readKubeTools } from '../../../test-infra/kube/tools.ts';
import { nodeLeaseName } from '../../src/agentrun/leases.ts';
import { spawnStromboli } from '../helpers/child-server.ts';
import type { ChildProcessHandle } from '../helpers/child-server.ts';
import { Cleanup } from '../helpers/cleanup.ts';
import { ensureFakeImage } from '../helpers/podman.ts';
import { CONTAINERS_CONF, FAKE_IMAGE } from '../helpers/repo.ts';
import { createNamespaceWithCrd, kubeTestBed, kubectl, uniqueName } from './test-bed.ts';
import type { KubeTestBed } from './test-bed.ts';

const bed = kubeTestBed();
const cleanup = new Cleanup();
let plane: TestControlPlane;
let local: KubeTestBed;
const SESSION = 'a0a0a0a0-1111-4222-8333-444455556666';

function manifest(name: string, prompt: string, session: string): string {
  return `apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata: {name: ${name}}\nspec:\n  prompt: ${JSON.stringify(prompt)}\n  podman: {image: ${FAKE_IMAGE}}\n  session: ${session}\n`;
}

async function apply(namespace: string, doc: string): Promise<void> {
  const applied = await kubectl(local, ['apply', '-n', namespace, '-f', '-'], doc);
  expect(applied.exitCode, applied.stderr).toBe(0);
}

async function statusOf(namespace: string, name: string): Promise<AgentRunStatus | undefined> {
  const got = await kubectl(local, ['get', 'agentrun', name, '-n', namespace, '-o', 'json']);
  if (got.exitCode !== 0) return undefined;
  return (JSON.parse(got.stdout) as { status?: AgentRunStatus }).status;
}

async function leaseHolder(namespace: string, name: string): Promise<string | undefined> {
  const got = await kubectl(local, ['get', 'lease', name, '-n', namespace, '-o', 'json']);
  if (got.exitCode !== 0) return undefined;
  return (JSON.parse(got.stdout) as { spec?: { holderIdentity?: string } }).spec?.holderIdentity;
}

async function startAgent(namespace: string, node: string, extra: readonly string[] = []): Promise<ChildProcessHandle> {
  const stateDir = await mkdtemp(join(tmpdir(), `stromboli-${node}-`));
  cleanup.add(`remove the state directory of ${node}`, () => rm(stateDir, { recursive: true, force: true }));
  const args = [
    'controller', '--store', 'kube', '--kubeconfig', plane.kubeconfigPath, '--namespace', namespace, '--node-name', node,
    '--lease-namespace', namespace, '--state-dir', stateDir, '--containers-conf', CONTAINERS_CONF, '--image', FAKE_IMAGE,
    '--max-concurrent-runs', '1', '--lease-duration-seconds', '4', '--no-podman-api', ...extra,
  ];
  return spawnStromboli(cleanup, { args, owner: `node-${node}`, readyMessage: 'node agent started', what: `node agent ${node}` });
}

async function newNamespace(prefix: string): Promise<string> {
  const namespace = uniqueName(prefix);
  await createNamespaceWithCrd(local, namespace);
  cleanup.add('delete the namespace', async () => void (await kubectl(local, ['delete', 'namespace', namespace, '--wait=false'])));
  return namespace;
}

/** Runs the session's first run on `node` (the only agent yet) to Succeeded. */
async function firstRunOn(namespace: string, node: string): Promise<ChildProcessHandle> {
  const home = await startAgent(namespace, node);
  await apply(namespace, manifest('first', 'Start the conversation', `{id: ${SESSION}}`));
  await expect.poll(async () => (await statusOf(namespace, 'first'))?.phase, { timeout: 60_000, interval: 250 }).toBe('Succeeded');
  expect(await statusOf(namespace, 'first')).toMatchObject({ node, sessionId: SESSION });
  return home;
}

beforeAll(async () => {
  await ensureFakeImage();
  plane = await startTestControlPlane({ tools: readKubeTools() });
  local = { ...bed, kubeconfigPath: plane.kubeconfigPath, server: plane.server, external: false, scratchDir: plane.scratchDir };
}, 180_000);

afterAll(async () => {
  await plane?.stop();
});

afterEach(async () => {
  await cleanup.run();
});

describe('a run that resumes a session, with two node agents', () => {
  it('goes to the agent holding the session, even while it is busy and the other is idle', async () => {
    const namespace = await newNamespace('affinity');
    const home = uniqueName('home');
    const other = uniqueName('other');
    await firstRunOn(namespace, home);
    await startAgent(namespace, other);
    await expect.poll(() => leaseHolder(namespace, nodeLeaseName(other)), { timeout: 30_000, interval: 250 }).toBe(other);
    // The home's one slot taken: without affinity the idle agent would take the resumed run.
    await apply(namespace, manifest('busy', 'Keep the home busy [fake:sleep=6]', '{}'));
    await expect.poll(async () => (await statusOf(namespace, 'busy'))?.phase, { timeout: 60_000, interval: 250 }).toBe('Running');
    await apply(namespace, manifest('again', 'Go on', `{id: ${SESSION}, resume: true}`));
    await expect.poll(async () => (await statusOf(namespace, 'again'))?.phase, { timeout: 90_000, interval: 250 }).toBe('Succeeded');
    expect(await statusOf(namespace, 'again')).toMatchObject({ node: home, sessionId: SESSION, attempt: 1 });
  }, 240_000);
});

describe('a run that resumes a session whose agent is gone', () => {
  it('waits SessionNodeUnavailable naming that node, and an agent with --shared-sessions takes it', async () => {
    const namespace = await newNamespace('gone');
    const home = uniqueName('gone-home');
    const other = uniqueName('gone-other');
    const first = await firstRunOn(namespace, home);
    await startAgent(namespace, other);
    await expect.poll(() => leaseHolder(namespace, nodeLeaseName(other)), { timeout: 30_000, interval: 250 }).toBe(other);
    await first.kill9();
    await apply(namespace, manifest('orphaned', 'Go on without its home', `{id: ${SESSION}, resume: true}`));
    await expect
      .poll(async () => { const s = await statusOf(namespace, 'orphaned'); return [s?.phase, reasonOf(s)]; }, { timeout: 30_000, interval: 250 })
      .toEqual(['Pending', 'SessionNodeUnavailable']);
    const waiting = await statusOf(namespace, 'orphaned');
    expect(waiting?.message).toContain(`node ${home}`);
    expect(waiting?.node).toBeUndefined();

    // With the sessions directory declared shared, any agent takes it (this test's directories are
    // not really shared, so the fake then finds no conversation: the claim is what is checked).
    const sharedNode = uniqueName('gone-shared');
    await startAgent(namespace, sharedNode, ['--shared-sessions']);
    await expect.poll(async () => (await statusOf(namespace, 'orphaned'))?.node, { timeout: 30_000, interval: 250 }).toBe(sharedNode);
  }, 240_000);
});
