// The Helm chart, charts/stromboli (issue 11), rendered by the test bed's helm: `helm lint` and
// `helm template` pass with the default values and with namespaces listed, the API server
// accepts what they render (server-side dry run), the RBAC is exactly the least privilege the
// two processes need, the workloads carry the downward API, host mounts, probes and security
// contexts docs/helm.md describes, and values.schema.json refuses a bad value naming the key.
// What an install does against the real API server is chart-install.int.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../test-infra/kube/tools.ts';
import { CHART_DIR, find, manifestsOf, namespacedValues, renderChart } from './chart.ts';
import type { Manifest } from './chart.ts';
import { helm, kubeTestBed, kubectl, scratchDir, uniqueName } from './test-bed.ts';

const bed = kubeTestBed();
const release = uniqueName('tpl');
const namespace = uniqueName('chart-tpl');
const runs = `${namespace}-runs`;
const prompts = `${namespace}-prompts`;
const dir = scratchDir(bed, 'chart-tpl');
const valuesFile = namespacedValues(dir, { runs, prompts });
const fullname = `${release}-stromboli`;

/** What the node agent does with AgentRuns and events, and the Namespace it reads its run cap from (rbac-agent.yaml), wherever it watches. */
const AGENT_RULES = [
  { apiGroups: ['stromboli.dev'], resources: ['agentruns'], verbs: ['get', 'list', 'watch', 'patch', 'delete'] },
  { apiGroups: ['stromboli.dev'], resources: ['agentruns/status'], verbs: ['get', 'update', 'patch'] },
  { apiGroups: ['stromboli.dev'], resources: ['agentruns/finalizers'], verbs: ['update'] },
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
  { apiGroups: [''], resources: ['namespaces'], verbs: ['get'] },
];
const LEASE_RULES = [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'create', 'update'] }];
const PROMPT_RULES = [{ apiGroups: [''], resources: ['configmaps', 'secrets'], verbs: ['get'] }];
const API_RULES = [{ apiGroups: ['stromboli.dev'], resources: ['agentruns'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] }];

interface Container {
  args: string[];
  env: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  securityContext: Record<string, unknown>;
  livenessProbe?: unknown;
  readinessProbe?: unknown;
  volumeMounts: Array<{ name: string; mountPath: string }>;
}
interface PodSpec {
  serviceAccountName: string;
  containers: Container[];
  volumes: Array<{ name: string; hostPath?: { path: string; type: string } }>;
  securityContext?: Record<string, unknown>;
  nodeSelector?: Record<string, string>;
  tolerations?: unknown[];
}

function podOf(workload: Manifest): PodSpec {
  return (workload['spec'] as { template: { spec: PodSpec } }).template.spec;
}

function containerOf(workload: Manifest): Container {
  const container = podOf(workload).containers[0];
  if (container === undefined) throw new Error(`${workload.kind} ${workload.metadata.name} has no container`);
  return container;
}

function rules(object: Manifest): unknown {
  return object['rules'];
}

/** The value after `flag` in argv, or undefined. */
function argOf(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

let defaults: Manifest[] = [];
let listed: Manifest[] = [];

beforeAll(async () => {
  for (const ns of [namespace, runs, prompts]) {
    const created = await kubectl(bed, ['create', 'namespace', ns]);
    expect(created.exitCode, created.stderr).toBe(0);
  }
  const plain = await renderChart(bed, release, namespace);
  expect(plain.exitCode, plain.stderr).toBe(0);
  defaults = manifestsOf(plain.stdout);
  const withNamespaces = await renderChart(bed, release, namespace, ['--values', valuesFile]);
  expect(withNamespaces.exitCode, withNamespaces.stderr).toBe(0);
  listed = manifestsOf(withNamespaces.stdout);
});

afterAll(async () => {
  for (const ns of [namespace, runs, prompts]) await kubectl(bed, ['delete', 'namespace', ns, '--wait=false']);
});

describe('helm lint and helm template', () => {
  it('lints clean (--strict) with the default values and with namespaces listed', async () => {
    for (const args of [[], ['--values', valuesFile]]) {
      const lint = await helm(bed, ['lint', '--strict', CHART_DIR, '--namespace', namespace, ...args]);
      expect(lint.exitCode, `${lint.stdout}\n${lint.stderr}`).toBe(0);
      expect(lint.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  it('renders what the API server accepts (server-side dry run), for both sets of values', async () => {
    for (const args of [[], ['--values', valuesFile]]) {
      const rendered = await renderChart(bed, release, namespace, args);
      // Every namespaced object names its namespace (the release's, the watched one, the promptFrom ones).
      const dryRun = await kubectl(bed, ['apply', '--dry-run=server', '-f', '-'], rendered.stdout);
      expect(dryRun.exitCode, dryRun.stderr).toBe(0);
    }
  });

  it('by default binds the agent cluster-wide to agentruns and events only, and to Leases in the release namespace only', () => {
    const clusterName = `${namespace}-${fullname}-agent`;
    expect(rules(find(defaults, 'ClusterRole', clusterName))).toEqual(AGENT_RULES);
    const binding = find(defaults, 'ClusterRoleBinding', clusterName);
    expect(binding['subjects']).toEqual([{ kind: 'ServiceAccount', name: `${fullname}-agent`, namespace }]);
    expect(binding['roleRef']).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterName });
    expect(rules(find(defaults, 'Role', `${fullname}-agent-leases`, namespace))).toEqual(LEASE_RULES);
    expect(rules(find(defaults, 'Role', `${fullname}-api`, namespace))).toEqual(API_RULES);
    // No promptFrom namespaces listed: no ConfigMap or Secret rights anywhere.
    const kinds = defaults.map((m) => `${m.kind}/${m.metadata.name}`).sort();
    expect(kinds).toEqual([
      `ClusterRole/${clusterName}`, `ClusterRoleBinding/${clusterName}`,
      `DaemonSet/${fullname}-agent`, `Deployment/${fullname}-api`,
      `Role/${fullname}-agent-leases`, `Role/${fullname}-api`,
      `RoleBinding/${fullname}-agent-leases`, `RoleBinding/${fullname}-api`,
      `Secret/${fullname}-api-token`, `Secret/${fullname}-log-token`,
      `Service/${fullname}-api`,
      `ServiceAccount/${fullname}-agent`, `ServiceAccount/${fullname}-api`,
    ]);
  });

  it('with namespaces listed uses a Role per namespace: agentruns in the watched one, ConfigMaps/Secrets get in each promptFrom one, nothing cluster-wide', () => {
    expect(listed.filter((m) => m.kind.startsWith('Cluster'))).toEqual([]);
    expect(rules(find(listed, 'Role', `${fullname}-agent`, runs))).toEqual(AGENT_RULES);
    for (const ns of [runs, prompts]) {
      expect(rules(find(listed, 'Role', `${fullname}-agent-prompts`, ns))).toEqual(PROMPT_RULES);
      expect(find(listed, 'RoleBinding', `${fullname}-agent-prompts`, ns)['subjects']).toEqual([{ kind: 'ServiceAccount', name: `${fullname}-agent`, namespace }]);
    }
    expect(rules(find(listed, 'Role', `${fullname}-api`, runs))).toEqual(API_RULES);
    expect(find(listed, 'RoleBinding', `${fullname}-api`, runs)['subjects']).toEqual([{ kind: 'ServiceAccount', name: `${fullname}-api`, namespace }]);
    expect(listed.filter((m) => m.kind === 'Role').map((m) => `${m.metadata.namespace}/${m.metadata.name}`).sort()).toEqual([
      `${namespace}/${fullname}-agent-leases`, `${prompts}/${fullname}-agent-prompts`,
      `${runs}/${fullname}-agent`, `${runs}/${fullname}-agent-prompts`, `${runs}/${fullname}-api`,
    ].sort());
    const policy = find(listed, 'NetworkPolicy', `${fullname}-agent`, namespace);
    expect(JSON.stringify(policy['spec'])).toContain('"app.kubernetes.io/component":"api"');
  });

  it('runs the node agent as a DaemonSet with the downward API, the host podman socket and state directory, the log endpoint and its token', () => {
    const daemonSet = find(listed, 'DaemonSet', `${fullname}-agent`, namespace);
    const pod = podOf(daemonSet);
    const agent = containerOf(daemonSet);
    expect(pod.serviceAccountName).toBe(`${fullname}-agent`);
    expect(pod.nodeSelector).toEqual({ 'stromboli.dev/podman': 'true' });
    expect(pod.tolerations).toEqual([{ key: 'stromboli.dev/podman', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(agent.args.slice(0, 5)).toEqual(['controller', '--store', 'kube', '--namespace', runs]);
    expect(argOf(agent.args, '--state-dir')).toBe('/var/lib/stromboli');
    expect(argOf(agent.args, '--log-address')).toBe('0.0.0.0:8586');
    expect(argOf(agent.args, '--log-token-file')).toBe('/etc/stromboli/log-token/token');
    expect(argOf(agent.args, '--allowed-volume')).toBe('/srv/stromboli/workspaces');
    expect(agent.args).toContain('--no-podman-api');
    const fromField = Object.fromEntries(agent.env.map((e) => [e.name, e.valueFrom ?? e.value]));
    expect(fromField).toMatchObject({
      NODE_NAME: { fieldRef: { fieldPath: 'spec.nodeName' } },
      POD_IP: { fieldRef: { fieldPath: 'status.podIP' } },
      POD_NAMESPACE: { fieldRef: { fieldPath: 'metadata.namespace' } },
      CONTAINER_HOST: 'unix:///run/podman/podman.sock',
    });
    const volumes = Object.fromEntries(pod.volumes.map((v) => [v.name, v.hostPath]));
    expect(volumes['podman-socket']).toEqual({ path: '/run/podman/podman.sock', type: 'Socket' });
    expect(volumes['state']).toEqual({ path: '/var/lib/stromboli', type: 'DirectoryOrCreate' });
    expect(volumes['volume-0']).toEqual({ path: '/srv/stromboli/workspaces', type: 'Directory' });
    const mounts = Object.fromEntries(agent.volumeMounts.map((m) => [m.name, m.mountPath]));
    expect(mounts).toMatchObject({ 'podman-socket': '/run/podman/podman.sock', state: '/var/lib/stromboli', 'volume-0': '/srv/stromboli/workspaces', 'log-token': '/etc/stromboli/log-token' });
    expect(agent.livenessProbe).toMatchObject({ tcpSocket: { port: 'logs' } });
    expect(agent.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
  });

  it('runs the facade as a Deployment under the restricted Pod Security Standard, probed on GET /health, behind a Service', () => {
    const deployment = find(listed, 'Deployment', `${fullname}-api`, namespace);
    const api = containerOf(deployment);
    expect(podOf(deployment).serviceAccountName).toBe(`${fullname}-api`);
    expect(api.args.slice(0, 5)).toEqual(['api', '--store', 'kube', '--namespace', runs]);
    expect(argOf(api.args, '--api-token-file')).toBe('/etc/stromboli/api/tokens');
    expect(argOf(api.args, '--log-token-file')).toBe('/etc/stromboli/log-token/token');
    expect(api.livenessProbe).toMatchObject({ httpGet: { path: '/health', port: 'http' } });
    expect(api.readinessProbe).toMatchObject({ httpGet: { path: '/health', port: 'http' } });
    expect(api.securityContext).toEqual({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
    expect(podOf(deployment).securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(podOf(deployment).volumes.filter((v) => v.hostPath !== undefined)).toEqual([]);
    const service = find(listed, 'Service', `${fullname}-api`, namespace);
    expect(service['spec']).toMatchObject({ type: 'ClusterIP', ports: [{ name: 'http', port: 8585, targetPort: 'http' }] });
  });

  it('refuses bad values with the schema\'s message naming the key', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--set', 'agent.maxConcurrentRuns=0'], /- at '\/agent\/maxConcurrentRuns': minimum: got 0, want 1/],
      [['--set', 'watchNamespace=Not_A_Namespace'], /- at '\/watchNamespace': 'Not_A_Namespace' does not match pattern/],
      [['--set', 'agent.nodeSelecter.podman=true'], /- at '\/agent': additional properties 'nodeSelecter' not allowed/],
      [['--set', 'agent.stateDir=relative/dir'], /- at '\/agent\/stateDir': 'relative\/dir' does not match pattern '\^\/'/],
    ];
    for (const [args, message] of cases) {
      const rendered = await renderChart(bed, release, namespace, args);
      expect(rendered.exitCode, `${args.join(' ')} was accepted`).not.toBe(0);
      expect(rendered.stderr).toMatch(/values don't meet the specifications of the schema/);
      expect(rendered.stderr).toMatch(message);
    }
  });

  it('refuses a facade namespace the node agents do not watch, saying which keys to change', async () => {
    const rendered = await renderChart(bed, release, namespace, ['--set', `watchNamespace=${runs}`]);
    expect(rendered.exitCode).not.toBe(0);
    expect(rendered.stderr).toContain(`api.namespace "${namespace}" (default: the release namespace) is not watched by the node agents (watchNamespace "${runs}")`);
  });

  it('ships crds/agentrun.yaml byte for byte in charts/stromboli/crds (refresh both with `npm run gen:crds`)', () => {
    const original = readFileSync(join(REPO_ROOT, 'crds', 'agentrun.yaml'));
    const copy = readFileSync(join(CHART_DIR, 'crds', 'agentrun.yaml'));
    expect(copy.equals(original)).toBe(true);
  });
});
