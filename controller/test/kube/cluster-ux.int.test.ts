// What a cluster user sees of a run (issue 10), against the test bed's real kube-apiserver with a
// node agent over the Kubernetes store (cmd/kube.ts), real podman and the fake Claude image:
// - events: `kubectl describe ar` and `kubectl get events` list each transition with its reason;
// - `kubectl get ar` columns (Phase, Reason, Age, Duration, Cost, Node; -o wide Session, Model)
//   and `kubectl explain` descriptions from the zod schemas;
// - spec.promptFrom: a ConfigMap-backed run succeeds (the fake CLI echoes the prompt), a missing
//   ConfigMap ends PromptNotFound;
// - bad input: what the CRD can reject the API server refuses (kubectl prints why: wrong types,
//   unknown enum values, a 2 MiB prompt, both prompt and promptFrom); what passes the CRD but not
//   our schema ends Failed with a reason naming the field; no container starts for any of them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../../src/log.ts';
import { KubeRunEvents } from '../../src/store/kube/kube-run-events.ts';
import { containerEvents, Labels } from '../helpers/podman.ts';
import { kubeTestBed, kubectl, uniqueName } from './test-bed.ts';
import { startLocalAgent } from './local-agent.ts';
import type { LocalAgent } from './local-agent.ts';

const bed = kubeTestBed();
const namespace = uniqueName('ux');
const nodeName = uniqueName('uxnode');
const IMAGE = 'localhost/stromboli/fake-claude:latest';
let local: LocalAgent | undefined;

function manifest(name: string, spec: string): string {
  return `apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata: {name: ${name}}\nspec:\n${spec}`;
}

async function apply(text: string, extra: string[] = []): Promise<{ exitCode: number; stderr: string }> {
  return kubectl(bed, ['apply', ...extra, '-n', namespace, '-f', '-'], text);
}

async function run(name: string): Promise<{ metadata: { uid: string }; status?: AgentRunStatus } | undefined> {
  const got = await kubectl(bed, ['get', 'agentrun', name, '-n', namespace, '-o', 'json']);
  return got.exitCode === 0 ? (JSON.parse(got.stdout) as { metadata: { uid: string }; status?: AgentRunStatus }) : undefined;
}

function reasonOf(status: AgentRunStatus | undefined): string {
  return status?.conditions?.find((c) => c.type === 'Succeeded')?.reason ?? '';
}

async function settled(name: string): Promise<string> {
  let seen = '';
  await expect
    .poll(async () => {
      const s = (await run(name))?.status;
      seen = `${s?.phase ?? 'none'}/${reasonOf(s)}`;
      return s?.phase === 'Succeeded' || s?.phase === 'Failed' || s?.phase === 'Cancelled';
    }, { timeout: 90_000, interval: 300, message: `${name} never finished` })
    .toBe(true);
  return seen;
}

beforeAll(async () => {
  local = await startLocalAgent(bed, namespace, nodeName);
});

afterAll(async () => {
  await local?.close();
});

describe('events', () => {
  it('kubectl describe ar and kubectl get events tell the run with the reasons of its conditions', async () => {
    const name = uniqueName('story');
    expect((await apply(manifest(name, `  prompt: tell the story\n  podman: {image: ${IMAGE}}\n`))).exitCode).toBe(0);
    expect(await settled(name)).toBe('Succeeded/Succeeded');
    await expect
      .poll(async () => {
        const got = await kubectl(bed, ['get', 'events', '-n', namespace, '--field-selector', `involvedObject.name=${name}`, '-o', 'json']);
        const items = (JSON.parse(got.stdout) as { items: Array<{ reason: string; type: string; reportingComponent?: string; involvedObject: { kind: string; uid: string } }> }).items;
        return items.map((e) => `${e.type}/${e.reason}/${e.involvedObject.kind}/${e.reportingComponent ?? ''}`).sort();
      }, { timeout: 20_000, interval: 300 })
      // Claimed: the agent's claim on the run (docs/multi-node.md), before it starts it.
      .toEqual(['Normal/Claimed/AgentRun/stromboli.dev/controller', 'Normal/Running/AgentRun/stromboli.dev/controller', 'Normal/Succeeded/AgentRun/stromboli.dev/controller']);
    const described = await kubectl(bed, ['describe', 'ar', name, '-n', namespace]);
    expect(described.exitCode, described.stderr).toBe(0);
    const events = described.stdout.slice(described.stdout.indexOf('Events:'));
    expect(events).toMatch(/Normal\s+Claimed\s+.*claimed by node /);
    expect(events).toMatch(/Normal\s+Running\s+.*container stromboli-.* is running/);
    expect(events).toMatch(/Normal\s+Succeeded\s+.*claude finished successfully/);
  });

  it('records a refusal as a Warning with its reason', async () => {
    const name = uniqueName('refused');
    expect((await apply(manifest(name, `  prompt: x\n  podman: {image: ${IMAGE}, volumes: ["/srv/nowhere:/data"]}\n`))).exitCode).toBe(0);
    expect(await settled(name)).toBe('Failed/VolumeNotAllowed');
    await expect
      .poll(async () => (await kubectl(bed, ['get', 'events', '-n', namespace, '--field-selector', `involvedObject.name=${name},type=Warning`, '-o', 'name'])).stdout.trim().split('\n').filter(Boolean).length, { timeout: 20_000 })
      .toBe(1);
    const described = await kubectl(bed, ['describe', 'ar', name, '-n', namespace]);
    expect(described.stdout).toMatch(/Warning\s+VolumeNotAllowed\s/);
  });

  it('counts a repeated event on the first one (series) as the API server stores it', async () => {
    const name = uniqueName('repeat');
    expect((await apply(manifest(name, `  prompt: x\n  suspend: true\n  podman: {image: ${IMAGE}}\n`))).exitCode).toBe(0);
    const object = await run(name);
    expect(object).toBeDefined();
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(bed.kubeconfigPath);
    const recorder = new KubeRunEvents({ kubeConfig, reportingInstance: 'repeat-test', log: createLogger({ level: 'silent' }) });
    const resource = { apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: { name, namespace, uid: object?.metadata.uid ?? '', resourceVersion: '1', generation: 1, creationTimestamp: '' }, spec: {} };
    for (let i = 0; i < 3; i += 1) recorder.record(resource, { type: 'Warning', reason: 'TestRepeat', message: 'the same again', action: 'Test' });
    await recorder.flush();
    const got = await kubectl(bed, ['get', 'events.events.k8s.io', '-n', namespace, '--field-selector', `regarding.name=${name},reason=TestRepeat`, '-o', 'json']);
    expect(got.exitCode, got.stderr).toBe(0);
    const items = (JSON.parse(got.stdout) as { items: Array<{ series?: { count: number }; note: string }> }).items;
    expect(items).toHaveLength(1);
    expect(items[0]?.series?.count).toBe(3);
    const described = await kubectl(bed, ['describe', 'ar', name, '-n', namespace]);
    expect(described.stdout).toMatch(/Warning\s+TestRepeat\s+.*\(x3 over .*\)\s+.*the same again/);
  });
});

describe('kubectl get and explain', () => {
  it('shows Phase, Reason, Age, Duration (wall time), Cost and Node; -o wide adds Session and Model', async () => {
    const name = uniqueName('cols');
    expect((await apply(manifest(name, `  prompt: columns please\n  podman: {image: ${IMAGE}}\n`))).exitCode).toBe(0);
    expect(await settled(name)).toBe('Succeeded/Succeeded');
    const status = (await run(name))?.status;
    const table = await kubectl(bed, ['get', 'ar', name, '-n', namespace]);
    expect(table.exitCode, table.stderr).toBe(0);
    const [header, row] = table.stdout.trim().split('\n');
    expect(header?.trim().split(/\s+/)).toEqual(['NAME', 'PHASE', 'REASON', 'AGE', 'DURATION', 'COST', 'NODE']);
    expect(status?.duration).toMatch(/^\d+\.\ds$/);
    expect(row?.trim().split(/\s+/)).toEqual([name, 'Succeeded', 'Succeeded', expect.stringMatching(/^\d+s$/), status?.duration, String(status?.usage?.costUSD), nodeName]);
    const wide = await kubectl(bed, ['get', 'ar', name, '-n', namespace, '-o', 'wide']);
    const [wideHeader, wideRow] = wide.stdout.trim().split('\n');
    expect(wideHeader?.trim().split(/\s+/).slice(0, 9)).toEqual(['NAME', 'PHASE', 'REASON', 'AGE', 'DURATION', 'COST', 'NODE', 'SESSION', 'MODEL']);
    expect(wideRow?.trim().split(/\s+/).slice(7, 9)).toEqual([status?.sessionId, status?.usage?.model]);
  });

  it('kubectl explain documents the spec and spec.claude from the zod descriptions', async () => {
    await expect.poll(async () => (await kubectl(bed, ['explain', 'agentrun.spec'])).exitCode, { timeout: 30_000, interval: 500 }).toBe(0);
    const spec = (await kubectl(bed, ['explain', 'agentrun.spec'])).stdout;
    expect(spec).toContain('Desired state of an AgentRun.');
    expect(spec).toMatch(/promptFrom\s+<Object>\s+Where the node agent reads the prompt/);
    expect(spec).toMatch(/activeDeadlineSeconds\s+<integer>\s+Wall-clock limit of one attempt/);
    const claude = await kubectl(bed, ['explain', 'agentrun.spec.claude']);
    expect(claude.exitCode, claude.stderr).toBe(0);
    expect(claude.stdout).toMatch(/maxTurns\s+<integer>\s+\S/);
    expect(claude.stdout).toMatch(/model\s+<string>\s+\S/);
    const ref = await kubectl(bed, ['explain', 'agentrun.spec.promptFrom.configMapKeyRef.key']);
    expect(ref.stdout).toContain('Key of the ConfigMap whose value is the prompt.');
    const status = await kubectl(bed, ['explain', 'agentrun.status']);
    expect(status.stdout).toMatch(/duration\s+<string>\s+Wall time from startTime to completionTime/);
  });
});

describe('spec.promptFrom', () => {
  it('runs with the prompt of a ConfigMap key, which the fake CLI echoes into the result, and keeps it out of status otherwise', async () => {
    const configMap = uniqueName('prompts');
    const created = await kubectl(bed, ['create', 'configmap', configMap, '-n', namespace, '--from-literal=task=the prompt from a configmap']);
    expect(created.exitCode, created.stderr).toBe(0);
    const name = uniqueName('cm');
    const applied = await apply(manifest(name, `  promptFrom: {configMapKeyRef: {name: ${configMap}, key: task}}\n  podman: {image: ${IMAGE}}\n`));
    expect(applied.exitCode, applied.stderr).toBe(0);
    expect(await settled(name)).toBe('Succeeded/Succeeded');
    const { result, ...rest } = (await run(name))?.status ?? {};
    expect(result).toContain('the prompt from a configmap');
    expect(JSON.stringify(rest)).not.toContain('from a configmap');
  });

  it('runs with the prompt of a Secret key, scrubbed from the result like a credential', async () => {
    const secret = uniqueName('vault');
    const created = await kubectl(bed, ['create', 'secret', 'generic', secret, '-n', namespace, '--from-literal=prompt=a secret prompt text']);
    expect(created.exitCode, created.stderr).toBe(0);
    const name = uniqueName('sec');
    expect((await apply(manifest(name, `  promptFrom: {secretKeyRef: {name: ${secret}, key: prompt}}\n  podman: {image: ${IMAGE}}\n`))).exitCode).toBe(0);
    expect(await settled(name)).toBe('Succeeded/Succeeded');
    const status = (await run(name))?.status;
    expect(status?.result).toContain('***');
    expect(JSON.stringify(status)).not.toContain('a secret prompt text');
  });

  it('ends a run whose ConfigMap does not exist Failed PromptNotFound, with no container', async () => {
    const since = new Date();
    const name = uniqueName('nocm');
    expect((await apply(manifest(name, `  promptFrom: {configMapKeyRef: {name: missing, key: task}}\n  podman: {image: ${IMAGE}}\n`))).exitCode).toBe(0);
    expect(await settled(name)).toBe('Failed/PromptNotFound');
    const found = await run(name);
    expect(found?.status?.message).toBe(`spec.promptFrom: configmap missing key task in namespace ${namespace}: the configmap does not exist`);
    expect(await containerEvents({ key: Labels.uid, value: found?.metadata.uid ?? '' }, since)).toEqual([]);
  });
});

describe('bad input', () => {
  it('is refused by the API server when the CRD can say so, kubectl printing why', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['types', '  prompt: x\n  backoffLimit: two\n', /spec\.backoffLimit.*must be of type integer/],
      ['enum', '  prompt: x\n  claude: {effort: ultra}\n', /spec\.claude\.effort: Unsupported value: "ultra"/],
      ['both', '  prompt: x\n  promptFrom: {configMapKeyRef: {name: a, key: b}}\n', /exactly one of spec\.prompt or spec\.promptFrom is required/],
      ['neither', '  workdir: /w\n', /exactly one of spec\.prompt or spec\.promptFrom is required/],
      ['tworefs', '  promptFrom: {configMapKeyRef: {name: a, key: b}, secretKeyRef: {name: a, key: b}}\n', /promptFrom needs exactly one of configMapKeyRef or secretKeyRef/],
      ['unknown', '  prompt: x\n  promt: typo\n', /unknown field "spec\.promt"/],
    ];
    for (const [label, spec, message] of cases) {
      const name = uniqueName(label);
      const applied = await apply(manifest(name, spec));
      expect(applied.exitCode, label).not.toBe(0);
      expect(applied.stderr, label).toMatch(message);
      expect(await run(name), label).toBeUndefined();
    }
  });

  it('refuses a 2 MiB prompt at the API server, with client-side apply, server-side apply and create', async () => {
    const big = 'x'.repeat(2 * 1024 * 1024);
    // Client-side apply doubles the body (the last-applied annotation): over the 3 MiB request limit.
    // Server-side apply and create reach the schema: maxLength names the field.
    const tooLong = /spec\.prompt: Too long: may not be more than 122880 bytes/;
    const cases = [['apply', [], /Request entity too large: limit is 3145728/], ['apply', ['--server-side'], tooLong], ['create', [], tooLong]] as const;
    for (const [verb, extra, message] of cases) {
      const name = uniqueName('big');
      const result = await kubectl(bed, [verb, ...extra, '-n', namespace, '-f', '-'], manifest(name, `  prompt: ${big}\n`));
      expect(result.exitCode, `${verb} ${extra.join(' ')}`).not.toBe(0);
      expect(result.stderr, `${verb} ${extra.join(' ')}`).toMatch(message);
      expect(await run(name)).toBeUndefined();
    }
  });

  it('ends what passes the CRD but not our schema Failed with a message naming the field, and a traversal VolumeNotAllowed/InvalidVolume; no container starts', async () => {
    const since = new Date();
    const memory = uniqueName('memory');
    const traversal = uniqueName('traversal');
    expect((await apply(manifest(memory, `  prompt: x\n  podman: {image: ${IMAGE}, memory: "0"}\n`))).exitCode).toBe(0);
    expect((await apply(manifest(traversal, `  prompt: x\n  podman: {image: ${IMAGE}, volumes: ["/tmp/../etc:/data"]}\n`))).exitCode).toBe(0);
    expect(await settled(memory)).toBe('Failed/InvalidSpec');
    expect((await run(memory))?.status?.message).toBe('invalid spec: spec.podman.memory: must be more than 0');
    expect(await settled(traversal)).toMatch(/^Failed\/(VolumeNotAllowed|InvalidVolume)$/);
    expect((await run(traversal))?.status?.message).toContain('/tmp/../etc');
    for (const name of [memory, traversal]) {
      const uid = (await run(name))?.metadata.uid ?? '';
      expect(await containerEvents({ key: Labels.uid, value: uid }, since), name).toEqual([]);
    }
  });
});
