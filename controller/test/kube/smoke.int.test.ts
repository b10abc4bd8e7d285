// Smoke suite of the Kubernetes test bed (issue 4): proves that the real API server started by
// global-setup.ts does what the controller will rely on. It installs the AgentRun CRD, applies an
// AgentRun with kubectl the way users will, writes status through the status subresource and
// watches it arrive, gets a 409 for a stale resourceVersion, renews a Lease, and lints and
// renders the Helm chart. It fails, never skips, when the server is absent.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ApiextensionsV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy,
  V1MicroTime, Watch, setHeaderOptions,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { z } from 'zod';
import { REPO_ROOT } from '../../../test-infra/kube/tools.ts';
import { helm, kubeTestBed, kubectl, scratchDir, uniqueName } from './test-bed.ts';

const GROUP = 'stromboli.dev';
const VERSION = 'v1alpha1';
const PLURAL = 'agentruns';
const FIXTURES = join(REPO_ROOT, 'controller', 'test', 'kube', 'fixtures');
const REAL_CRD = join(REPO_ROOT, 'crds', 'agentrun.yaml');
const REAL_CHART = join(REPO_ROOT, 'charts', 'stromboli');
const CRD_FILE = existsSync(REAL_CRD) ? REAL_CRD : join(FIXTURES, 'agentrun-crd.yaml');
const CHART_DIR = existsSync(REAL_CHART) ? REAL_CHART : join(FIXTURES, 'chart');
const POLL = { timeout: 30_000, interval: 100 } as const;

// The slice of an AgentRun this suite reads; parsed, not cast.
const AgentRunSchema = z.object({
  metadata: z.object({ name: z.string(), namespace: z.string(), resourceVersion: z.string(), generation: z.number() }),
  spec: z.record(z.string(), z.unknown()),
  status: z.object({ phase: z.string().optional(), observedGeneration: z.number().optional() }).loose().optional(),
});
type AgentRunSlice = z.infer<typeof AgentRunSchema>;

const bed = kubeTestBed();
const kc = new KubeConfig();
kc.loadFromFile(bed.kubeconfigPath);
const core = kc.makeApiClient(CoreV1Api);
const crds = kc.makeApiClient(ApiextensionsV1Api);
const objects = kc.makeApiClient(CustomObjectsApi);
const leases = kc.makeApiClient(CoordinationV1Api);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const namespace = uniqueName('smoke');
const scratch = scratchDir(bed, 'smoke');

async function readRun(name: string): Promise<AgentRunSlice> {
  return AgentRunSchema.parse(await objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name }));
}

/** Applies the fixture AgentRun under `name` with `kubectl apply -f`, as a user would. */
async function applyRun(name: string): Promise<void> {
  const manifest = z.object({ metadata: z.record(z.string(), z.unknown()) }).loose()
    .parse(parseYaml(readFileSync(join(FIXTURES, 'agentrun.yaml'), 'utf8')));
  const file = join(scratch, `${name}.yaml`);
  writeFileSync(file, stringifyYaml({ ...manifest, metadata: { ...manifest.metadata, name, namespace } }));
  const res = await kubectl(bed, ['apply', '-f', file]);
  expect(res, res.stderr).toMatchObject({ exitCode: 0 });
}

/**
 * MicroTime fields come back from @kubernetes/client-node 2.0.1 as strings, although they are
 * typed as V1MicroTime (a Date); accept both.
 */
function toMillis(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  return typeof value === 'string' ? Date.parse(value) : Number.NaN;
}

function conflictCode(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'number' ? err.code : undefined;
}

beforeAll(async () => {
  await core.createNamespace({ body: { metadata: { name: namespace } } });
});

afterAll(async () => {
  // No namespace controller runs in the local bed, so the namespace stays Terminating; harmless.
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
});

describe('kube test bed smoke', () => {
  it('serves the expected Kubernetes version to kubectl', async () => {
    const res = await kubectl(bed, ['version', '-o', 'json']);
    expect(res.exitCode, res.stderr).toBe(0);
    const version = z.object({ serverVersion: z.object({ gitVersion: z.string() }) }).loose().parse(JSON.parse(res.stdout));
    if (!bed.external) expect(version.serverVersion.gitVersion).toBe(`v${bed.k8sVersion}`);
    else expect(version.serverVersion.gitVersion).toMatch(/^v1\./);
  });

  it(`installs the AgentRun CRD (${CRD_FILE === REAL_CRD ? 'crds/agentrun.yaml' : 'fixture'}) and it becomes Established`, async () => {
    const res = await kubectl(bed, ['apply', '-f', CRD_FILE]);
    expect(res.exitCode, res.stderr).toBe(0);
    await expect.poll(async () => {
      const crd = await crds.readCustomResourceDefinition({ name: `${PLURAL}.${GROUP}` });
      return crd.status?.conditions?.find((c) => c.type === 'Established')?.status;
    }, POLL).toBe('True');
    const crd = await crds.readCustomResourceDefinition({ name: `${PLURAL}.${GROUP}` });
    expect(crd.spec.names).toMatchObject({ kind: 'AgentRun', plural: PLURAL, shortNames: expect.arrayContaining(['ar']) });
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.versions.find((v) => v.name === VERSION)?.subresources?.status).toBeDefined();
    // kubectl resolves the short name once discovery has caught up.
    await expect.poll(async () => (await kubectl(bed, ['get', 'ar', '-n', namespace])).exitCode, POLL).toBe(0);
  });

  it('kubectl apply -f creates an AgentRun that the client reads back', async () => {
    await applyRun('applied');
    const run = await readRun('applied');
    expect(run.metadata).toMatchObject({ name: 'applied', namespace, generation: 1 });
    expect(run.spec).toMatchObject({ prompt: 'Say hello.' });
    const res = await kubectl(bed, ['get', 'ar', 'applied', '-n', namespace, '-o', 'json']);
    expect(res.exitCode, res.stderr).toBe(0);
    expect(AgentRunSchema.parse(JSON.parse(res.stdout)).metadata.resourceVersion).toBe(run.metadata.resourceVersion);
  });

  it('a status write through the status subresource arrives on a watch and leaves spec and generation alone', async () => {
    await applyRun('watched');
    const before = await readRun('watched');
    const seen: AgentRunSlice[] = [];
    let watchEnded: unknown;
    const watch = await new Watch(kc).watch(
      `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`,
      { resourceVersion: before.metadata.resourceVersion, fieldSelector: 'metadata.name=watched' },
      (type: string, obj: unknown) => { if (type === 'MODIFIED') seen.push(AgentRunSchema.parse(obj)); },
      (err: unknown) => { watchEnded = err ?? 'closed'; },
    );
    try {
      await objects.patchNamespacedCustomObjectStatus({
        group: GROUP, version: VERSION, namespace, plural: PLURAL, name: 'watched',
        body: { status: { phase: 'Running', observedGeneration: before.metadata.generation } },
      }, mergePatch);
      await expect.poll(() => seen.find((r) => r.status?.phase === 'Running'), POLL).toBeDefined();
      expect(watchEnded).toBeUndefined();
    } finally {
      watch.abort();
    }
    const after = await readRun('watched');
    expect(after.status).toMatchObject({ phase: 'Running', observedGeneration: 1 });
    expect(after.metadata.generation).toBe(before.metadata.generation);
    expect(after.spec).toEqual(before.spec);

    // A status change sent to the main resource is ignored (the subresource owns status).
    await objects.patchNamespacedCustomObject({
      group: GROUP, version: VERSION, namespace, plural: PLURAL, name: 'watched',
      body: { metadata: { labels: { touched: 'yes' } }, status: { phase: 'Failed' } },
    }, mergePatch);
    expect((await readRun('watched')).status?.phase).toBe('Running');
  });

  it('refuses a merge patch carrying a stale resourceVersion with 409 Conflict', async () => {
    await applyRun('conflict');
    const stale = await readRun('conflict');
    await objects.patchNamespacedCustomObjectStatus({
      group: GROUP, version: VERSION, namespace, plural: PLURAL, name: 'conflict', body: { status: { phase: 'Pending' } },
    }, mergePatch);
    const attempt = objects.patchNamespacedCustomObjectStatus({
      group: GROUP, version: VERSION, namespace, plural: PLURAL, name: 'conflict',
      body: { metadata: { resourceVersion: stale.metadata.resourceVersion }, status: { phase: 'Running' } },
    }, mergePatch);
    const err: unknown = await attempt.then(() => undefined, (e: unknown) => e);
    expect(conflictCode(err)).toBe(409);
    const onMain: unknown = await objects.patchNamespacedCustomObject({
      group: GROUP, version: VERSION, namespace, plural: PLURAL, name: 'conflict',
      body: { metadata: { resourceVersion: stale.metadata.resourceVersion, labels: { stale: 'yes' } } },
    }, mergePatch).then(() => undefined, (e: unknown) => e);
    expect(conflictCode(onMain)).toBe(409);
    const now = await readRun('conflict');
    expect(now.status?.phase).toBe('Pending');
    expect(now.metadata.resourceVersion).not.toBe(stale.metadata.resourceVersion);
  });

  it('creates and renews a Lease, and refuses a renewal from a stale read', async () => {
    // renewTime/acquireTime are MicroTime: a plain Date serialises with milliseconds and the
    // server rejects it; V1MicroTime writes the microsecond form.
    const created = await leases.createNamespacedLease({
      namespace,
      body: {
        metadata: { name: 'smoke-leader' },
        spec: { holderIdentity: 'smoke-a', leaseDurationSeconds: 15, acquireTime: new V1MicroTime(), renewTime: new V1MicroTime(), leaseTransitions: 0 },
      },
    });
    const firstRenew = toMillis(created.spec?.renewTime);
    expect(firstRenew).toBeGreaterThan(0);
    expect(created.spec?.holderIdentity).toBe('smoke-a');
    const renewAt = new V1MicroTime(firstRenew + 1_500);
    const renewed = await leases.replaceNamespacedLease({
      name: 'smoke-leader', namespace, body: { ...created, spec: { ...created.spec, renewTime: renewAt } },
    });
    expect(toMillis(renewed.spec?.renewTime)).toBe(renewAt.getTime());
    expect(renewed.metadata?.resourceVersion).not.toBe(created.metadata?.resourceVersion);
    const err: unknown = await leases.replaceNamespacedLease({
      name: 'smoke-leader', namespace, body: { ...created, spec: { ...created.spec, holderIdentity: 'smoke-b' } },
    }).then(() => undefined, (e: unknown) => e);
    expect(conflictCode(err)).toBe(409);
  });

  it(`helm lint and helm template accept the chart (${CHART_DIR === REAL_CHART ? 'charts/stromboli' : 'fixture'}) and the server accepts what it renders`, async () => {
    const lint = await helm(bed, ['lint', CHART_DIR]);
    expect(lint.exitCode, `${lint.stdout}\n${lint.stderr}`).toBe(0);
    const rendered = await helm(bed, ['template', 'smoke', CHART_DIR, '--namespace', namespace]);
    expect(rendered.exitCode, rendered.stderr).toBe(0);
    expect(rendered.stdout).toMatch(/^kind: /m);
    const dryRun = await kubectl(bed, ['apply', '--dry-run=server', '-n', namespace, '-f', '-'], rendered.stdout);
    expect(dryRun.exitCode, dryRun.stderr).toBe(0);
  });
});
