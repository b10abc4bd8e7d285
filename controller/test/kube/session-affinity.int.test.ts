// Session affinity across node agents (issue 11, docs/multi-node.md "Session affinity"): two real
// agent processes, each with its own state directory (so its own sessions/), on one podman with
// the fake Claude image, which fails a --resume whose conversation is not in its HOME:
// - a run resuming a session goes to the agent that ran the session's first run, even while that
//   agent is busy and the other one is idle, and succeeds there;
// - when that agent is gone (kill -9, its Lease expired), the resumed run waits Pending with
//   reason SessionNodeUnavailable naming it; an agent started with --shared-sessions takes it.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { reasonOf } from '../../../contract/apis/v1alpha1/index.ts';
import { nodeLeaseName } from '../../src/agentrun/leases.ts';
import type { ChildProcessHandle } from '../helpers/child-server.ts';
import { Cleanup } from '../helpers/cleanup.ts';
import { FAKE_IMAGE } from '../helpers/repo.ts';
import { NodeAgentPlane } from './node-agents.ts';
import { kubectl, uniqueName } from './test-bed.ts';

const cleanup = new Cleanup();
const agents = new NodeAgentPlane(cleanup);
/** One slot each and a short Lease. */
const AGENT_FLAGS = ['--max-concurrent-runs', '1', '--lease-duration-seconds', '4', '--no-podman-api'];
const SESSION = 'a0a0a0a0-1111-4222-8333-444455556666';

function manifest(name: string, prompt: string, session: string): string {
  return `apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata: {name: ${name}}\nspec:\n  prompt: ${JSON.stringify(prompt)}\n  podman: {image: ${FAKE_IMAGE}}\n  session: ${session}\n`;
}

async function apply(namespace: string, doc: string): Promise<void> {
  const applied = await kubectl(agents.local, ['apply', '-n', namespace, '-f', '-'], doc);
  expect(applied.exitCode, applied.stderr).toBe(0);
}

async function statusOf(namespace: string, name: string): Promise<AgentRunStatus | undefined> {
  const got = await kubectl(agents.local, ['get', 'agentrun', name, '-n', namespace, '-o', 'json']);
  if (got.exitCode !== 0) return undefined;
  return (JSON.parse(got.stdout) as { status?: AgentRunStatus }).status;
}

/** Runs the session's first run on `node` (the only agent yet) to Succeeded. */
async function firstRunOn(namespace: string, node: string): Promise<ChildProcessHandle> {
  const home = await agents.startAgent(namespace, node, AGENT_FLAGS);
  await apply(namespace, manifest('first', 'Start the conversation', `{id: ${SESSION}}`));
  await expect.poll(async () => (await statusOf(namespace, 'first'))?.phase, { timeout: 60_000, interval: 250 }).toBe('Succeeded');
  expect(await statusOf(namespace, 'first')).toMatchObject({ node, sessionId: SESSION });
  return home;
}

beforeAll(() => agents.start(), 180_000);

afterAll(() => agents.stop());

afterEach(async () => {
  await cleanup.run();
});

describe('a run that resumes a session, with two node agents', () => {
  it('goes to the agent holding the session, even while it is busy and the other is idle', async () => {
    const namespace = await agents.newNamespace('affinity');
    const home = uniqueName('home');
    const other = uniqueName('other');
    await firstRunOn(namespace, home);
    await agents.startAgent(namespace, other, AGENT_FLAGS);
    await expect.poll(() => agents.leaseHolder(namespace, nodeLeaseName(other)), { timeout: 30_000, interval: 250 }).toBe(other);
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
    const namespace = await agents.newNamespace('gone');
    const home = uniqueName('gone-home');
    const other = uniqueName('gone-other');
    const first = await firstRunOn(namespace, home);
    await agents.startAgent(namespace, other, AGENT_FLAGS);
    await expect.poll(() => agents.leaseHolder(namespace, nodeLeaseName(other)), { timeout: 30_000, interval: 250 }).toBe(other);
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
    await agents.startAgent(namespace, sharedNode, [...AGENT_FLAGS, '--shared-sessions']);
    await expect.poll(async () => (await statusOf(namespace, 'orphaned'))?.node, { timeout: 30_000, interval: 250 }).toBe(sharedNode);
  }, 240_000);
});
