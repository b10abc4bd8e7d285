// What the chart suites share: render charts/stromboli with the test bed's helm, read its
// documents, mint a ServiceAccount token (TokenRequest, `kubectl create token`) into a kubeconfig
// of its own, and ask the API server what that identity may do (`kubectl auth can-i`).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments, stringify as stringifyYaml } from 'yaml';
import { z } from 'zod';
import { REPO_ROOT } from '../../../test-infra/kube/tools.ts';
import { helm, kubectl, runTool } from './test-bed.ts';
import type { KubeTestBed, ToolResult } from './test-bed.ts';

export const CHART_DIR = join(REPO_ROOT, 'charts', 'stromboli');
export const NAMESPACED_VALUES = join(REPO_ROOT, 'controller', 'test', 'kube', 'fixtures', 'chart-values-namespaced.yaml');

/** One rendered Kubernetes object, as far as the suites read it. */
export const ManifestSchema = z
  .object({
    apiVersion: z.string(),
    kind: z.string(),
    metadata: z.object({ name: z.string(), namespace: z.string().optional() }).loose(),
  })
  .loose();
export type Manifest = z.infer<typeof ManifestSchema>;

/** The documents of a multi-document YAML text, empty ones dropped. */
export function manifestsOf(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as unknown)
    .filter((value) => value !== null && value !== undefined)
    .map((value) => ManifestSchema.parse(value));
}

/** `helm template RELEASE charts/stromboli -n NAMESPACE ARGS`. */
export async function renderChart(bed: KubeTestBed, release: string, namespace: string, args: readonly string[] = []): Promise<ToolResult> {
  return await helm(bed, ['template', release, CHART_DIR, '--namespace', namespace, ...args]);
}

/** The one object of `kind` named `name` (the test fails naming what is there otherwise). */
export function find(manifests: readonly Manifest[], kind: string, name: string, namespace?: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name && (namespace === undefined || m.metadata.namespace === namespace));
  if (found === undefined) throw new Error(`no ${kind} ${namespace ?? ''}/${name} among: ${manifests.map((m) => `${m.kind} ${m.metadata.namespace ?? ''}/${m.metadata.name}`).join(', ')}`);
  return found;
}

/** The values fixture with its three placeholder namespaces replaced, written next to `dir`. */
export function namespacedValues(dir: string, names: { runs: string; prompts: string }): string {
  const text = readFileSync(NAMESPACED_VALUES, 'utf8').replaceAll('runs-ns', names.runs).replaceAll('prompts-ns', names.prompts);
  const path = join(dir, `values-${names.runs}.yaml`);
  writeFileSync(path, text);
  return path;
}

const KubeconfigSchema = z.object({ clusters: z.array(z.object({ name: z.string(), cluster: z.record(z.string(), z.unknown()) })) }).loose();

/**
 * Mints a token for ServiceAccount `namespace/name` through the TokenRequest API and writes a
 * kubeconfig that authenticates with it alone (the admin kubeconfig's cluster, no client cert).
 */
export async function serviceAccountKubeconfig(bed: KubeTestBed, namespace: string, name: string, dir: string): Promise<string> {
  const minted = await kubectl(bed, ['create', 'token', name, '-n', namespace, '--duration=2h']);
  if (minted.exitCode !== 0) throw new Error(`kubectl create token ${namespace}/${name} failed: ${minted.stderr}`);
  const admin = KubeconfigSchema.parse(parseYaml(readFileSync(bed.kubeconfigPath, 'utf8')));
  const cluster = admin.clusters[0];
  if (cluster === undefined) throw new Error(`${bed.kubeconfigPath} names no cluster`);
  const user = `system:serviceaccount:${namespace}:${name}`;
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [cluster],
    users: [{ name: user, user: { token: minted.stdout.trim() } }],
    contexts: [{ name: 'sa', context: { cluster: cluster.name, user } }],
    'current-context': 'sa',
  };
  const path = join(dir, `kubeconfig-${namespace}-${name}`);
  writeFileSync(path, stringifyYaml(config), { mode: 0o600 });
  return path;
}

/** kubectl as the identity of `kubeconfig` (never the admin's). */
export async function kubectlAs(bed: KubeTestBed, kubeconfig: string, args: readonly string[]): Promise<ToolResult> {
  return await runTool(bed.kubectl, [`--kubeconfig=${kubeconfig}`, ...args]);
}

/** `kubectl auth can-i VERB RESOURCE [flags]` as that identity: true for yes, false for no, a throw for anything else. */
export async function canI(bed: KubeTestBed, kubeconfig: string, args: readonly string[]): Promise<boolean> {
  const result = await kubectlAs(bed, kubeconfig, ['auth', 'can-i', ...args]);
  const answer = result.stdout.trim();
  if (answer === 'yes' && result.exitCode === 0) return true;
  if (answer.startsWith('no') && result.exitCode === 1) return false;
  throw new Error(`kubectl auth can-i ${args.join(' ')}: exit ${result.exitCode}, ${result.stdout} ${result.stderr}`);
}

/** The self-review rights every authenticated user has (system:basic-user); left out of ruleTable. */
const EVERYONE = new Set(['selfsubjectreviews.authentication.k8s.io', 'selfsubjectaccessreviews.authorization.k8s.io', 'selfsubjectrulesreviews.authorization.k8s.io']);

/**
 * Every resource right of that identity in `namespace` (`kubectl auth can-i --list`), as
 * "resource: verbs" lines sorted, without the self-review rights and non-resource URLs everyone has.
 */
export async function ruleTable(bed: KubeTestBed, kubeconfig: string, namespace: string): Promise<string[]> {
  const result = await kubectlAs(bed, kubeconfig, ['auth', 'can-i', '--list', '-n', namespace]);
  if (result.exitCode !== 0) throw new Error(`kubectl auth can-i --list -n ${namespace}: ${result.stderr}`);
  const rows: string[] = [];
  for (const line of result.stdout.split('\n').slice(1)) {
    const match = /^(\S+)\s+\[(.*?)\]\s+\[(.*?)\]\s+\[(.*?)\]\s*$/.exec(line);
    if (match === null) continue;
    const [, resource = '', , names = '', verbs = ''] = match;
    if (EVERYONE.has(resource)) continue;
    rows.push(`${resource}${names === '' ? '' : `[${names}]`}: ${verbs.split(' ').filter(Boolean).sort().join(' ')}`);
  }
  return rows.sort();
}
