// `helm install` of charts/stromboli into the test bed's real API server (issue 11), and its RBAC
// proven rather than assumed: tokens minted for the chart's two ServiceAccounts (TokenRequest)
// run a real node agent (`stromboli controller --store kube`, real podman through a podman API
// socket as in the pod, the fake Claude image) and a real facade (`stromboli api --store kube`)
// with the arguments the DaemonSet and the Deployment render; both do their whole job, and
// `kubectl auth can-i` with the same tokens shows they can do nothing else. The test bed has no
// kubelet (nor controller-manager), so the chart's pods never exist: the processes run here.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { Cleanup } from '../helpers/cleanup.ts';
import { spawnStromboli } from '../helpers/child-server.ts';
import { ensureFakeImage } from '../helpers/podman.ts';
import { CONTAINERS_CONF, FAKE_IMAGE } from '../helpers/repo.ts';
import { CHART_DIR, canI, find, manifestsOf, ruleTable, serviceAccountKubeconfig } from './chart.ts';
import type { Manifest } from './chart.ts';
import { helm, kubeTestBed, kubectl, runTool, scratchDir, uniqueName } from './test-bed.ts';

const bed = kubeTestBed();
const release = uniqueName('rel');
const namespace = uniqueName('chart');
const runs = `${namespace}-runs`;
const other = `${namespace}-other`;
const fullname = `${release}-stromboli`;
const nodeName = uniqueName('chartnode');
const dir = scratchDir(bed, 'chart-install');
const cleanup = new Cleanup();
let manifests: Manifest[] = [];
let agentConfig = '';
let apiConfig = '';
let facadeUrl = '';
let apiToken = '';
let notes = '';

interface Container {
  args: string[];
  env: Array<{ name: string; value?: string }>;
}

function containerOf(kind: string, name: string): Container {
  const workload = find(manifests, kind, name, namespace);
  const container = (workload['spec'] as { template: { spec: { containers: Container[] } } }).template.spec.containers[0];
  if (container === undefined) throw new Error(`${kind} ${name} has no container`);
  return container;
}

/** argv with the value after each flag replaced (the flag must be there: the chart renders it). */
function replaced(args: readonly string[], values: Record<string, string>): string[] {
  const out = [...args];
  for (const [flag, value] of Object.entries(values)) {
    const i = out.indexOf(flag);
    if (i < 0 || i + 1 >= out.length) throw new Error(`the rendered arguments have no ${flag}: ${args.join(' ')}`);
    out[i + 1] = value;
  }
  return out;
}

async function secretValue(name: string, key: string): Promise<string> {
  const got = await kubectl(bed, ['get', 'secret', name, '-n', namespace, '-o', `jsonpath={.data.${key}}`]);
  expect(got.exitCode, got.stderr).toBe(0);
  return Buffer.from(got.stdout, 'base64').toString('utf8');
}

async function agentRun(name: string): Promise<{ metadata: { uid: string }; status?: AgentRunStatus } | undefined> {
  const got = await kubectl(bed, ['get', 'agentrun', name, '-n', runs, '-o', 'json']);
  return got.exitCode === 0 ? (JSON.parse(got.stdout) as { metadata: { uid: string }; status?: AgentRunStatus }) : undefined;
}

async function finished(name: string): Promise<AgentRunStatus | undefined> {
  await expect
    .poll(async () => (await agentRun(name))?.status?.phase, { timeout: 120_000, interval: 500, message: `${name} never finished` })
    .toMatch(/^(Succeeded|Failed|Cancelled)$/);
  return (await agentRun(name))?.status;
}

/** A podman API service on a socket of its own: what the host's podman.socket is to the agent's pod. */
async function startPodmanService(): Promise<string> {
  const socket = join(await mkdtemp(join(tmpdir(), 'stromboli-chart-podman-')), 'podman.sock');
  const service = spawn('podman', ['system', 'service', '--time=0', `unix://${socket}`], { env: { ...process.env, CONTAINERS_CONF }, stdio: 'ignore' });
  const pid = service.pid;
  if (pid === undefined) throw new Error('podman system service did not start');
  cleanup.add(`stop podman system service (pid ${pid})`, async () => {
    if (service.exitCode === null && service.signalCode === null) {
      const exited = new Promise((resolveExit) => service.once('exit', resolveExit));
      process.kill(pid, 'SIGTERM');
      await exited;
    }
    await rm(join(socket, '..'), { recursive: true, force: true });
  });
  // podman's client goes remote when CONTAINER_HOST is set, as the chart's pod relies on.
  await expect
    .poll(async () => (await runTool('podman', ['info', '--format', '{{.Host.ServiceIsRemote}}'], { env: { CONTAINER_HOST: `unix://${socket}` } })).stdout.trim(), {
      timeout: 30_000, interval: 250, message: 'the podman service never answered',
    })
    .toBe('true');
  return socket;
}

beforeAll(async () => {
  await ensureFakeImage();
  for (const ns of [namespace, runs, other]) {
    const created = await kubectl(bed, ['create', 'namespace', ns]);
    expect(created.exitCode, created.stderr).toBe(0);
  }
  const installed = await helm(bed, [
    'install', release, CHART_DIR, '--namespace', namespace,
    '--set', `watchNamespace=${runs}`, '--set', `api.namespace=${runs}`, '--set', `promptFrom.namespaces={${runs}}`,
    '--set', `agent.runImage=${FAKE_IMAGE}`, '--set', 'agent.containerNetwork=none',
  ]);
  expect(installed.exitCode, `${installed.stdout}\n${installed.stderr}`).toBe(0);
  notes = installed.stdout.slice(installed.stdout.indexOf('NOTES:'));
  const manifest = await helm(bed, ['get', 'manifest', release, '--namespace', namespace]);
  expect(manifest.exitCode, manifest.stderr).toBe(0);
  manifests = manifestsOf(manifest.stdout);
  agentConfig = await serviceAccountKubeconfig(bed, namespace, `${fullname}-agent`, dir);
  apiConfig = await serviceAccountKubeconfig(bed, namespace, `${fullname}-api`, dir);
}, 180_000);

afterAll(async () => {
  await cleanup.run();
  await helm(bed, ['uninstall', release, '--namespace', namespace]);
  for (const ns of [namespace, runs, other]) await kubectl(bed, ['delete', 'namespace', ns, '--wait=false']);
});

describe('helm install into the real API server', () => {
  it('creates every object of the release, and the CRD from the chart\'s crds/', async () => {
    expect(manifests.length).toBeGreaterThanOrEqual(15);
    for (const object of manifests) {
      const group = object.apiVersion.includes('/') ? object.apiVersion.split('/')[0] : undefined;
      const resource = group === undefined ? object.kind : `${object.kind}.${group}`;
      const got = await kubectl(bed, ['get', resource, object.metadata.name, '-n', object.metadata.namespace ?? namespace, '-o', 'name']);
      expect(got.exitCode, `${object.kind} ${object.metadata.namespace}/${object.metadata.name}: ${got.stderr}`).toBe(0);
    }
    const crd = await kubectl(bed, ['get', 'crd', 'agentruns.stromboli.dev', '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}']);
    expect(crd.stdout).toBe('True');
    // No kubelet and no controller-manager: the DaemonSet and the Deployment never get a pod.
    const pods = await kubectl(bed, ['get', 'pods', '-n', namespace, '-o', 'name']);
    expect(pods.stdout.trim()).toBe('');
    // The release notes say where things are and how to read the generated API token.
    expect(notes).toContain(`Node agents: DaemonSet ${fullname}-agent, watching namespace ${runs}.`);
    expect(notes).toContain(`kubectl get secret -n ${namespace} ${fullname}-api-token -o jsonpath='{.data.tokens}' | base64 -d`);
    expect(notes).toContain('The CRD in crds/ is not upgraded by helm upgrade: see docs/helm.md, "Upgrade".');
  });

  it('gives the node agent\'s token exactly its rights in each namespace, and nothing cluster-wide', async () => {
    expect(await ruleTable(bed, agentConfig, runs)).toEqual([
      'agentruns.stromboli.dev/finalizers: update',
      'agentruns.stromboli.dev/status: get patch update',
      'agentruns.stromboli.dev: delete get list patch watch',
      'configmaps: get',
      'events.events.k8s.io: create patch',
      'namespaces: get',
      'secrets: get',
    ]);
    expect(await ruleTable(bed, agentConfig, namespace)).toEqual(['leases.coordination.k8s.io: create get list update']);
    expect(await ruleTable(bed, agentConfig, other)).toEqual([]);
    const denied: string[][] = [
      ['list', 'secrets', '--all-namespaces'], ['get', 'secrets', '-n', other], ['get', 'secrets', '-n', namespace],
      ['list', 'secrets', '-n', runs], ['watch', 'configmaps', '-n', runs], ['get', 'configmaps', '-n', other],
      ['create', 'pods', '--subresource=exec', '-n', runs], ['get', 'pods', '-n', runs],
      ['delete', 'customresourcedefinitions.apiextensions.k8s.io/agentruns.stromboli.dev'],
      ['create', 'agentruns.stromboli.dev', '-n', runs], ['list', 'agentruns.stromboli.dev', '--all-namespaces'],
      ['create', 'leases.coordination.k8s.io', '-n', runs], ['create', 'serviceaccounts', '--subresource=token', '-n', namespace],
      ['create', 'rolebindings.rbac.authorization.k8s.io', '-n', runs], ['create', 'events', '-n', runs],
      ['get', `namespaces/${other}`], ['list', 'namespaces'], ['update', `namespaces/${runs}`],
    ];
    for (const args of denied) expect(await canI(bed, agentConfig, args), `agent: can-i ${args.join(' ')}`).toBe(false);
  });

  it('gives the facade\'s token agentruns in its namespace and nothing else', async () => {
    expect(await ruleTable(bed, apiConfig, runs)).toEqual(['agentruns.stromboli.dev: create delete get list patch watch']);
    expect(await ruleTable(bed, apiConfig, namespace)).toEqual([]);
    const denied: string[][] = [
      ['update', 'agentruns.stromboli.dev', '--subresource=status', '-n', runs], ['get', 'secrets', '-n', namespace],
      ['get', 'secrets', '-n', runs], ['list', 'secrets', '--all-namespaces'], ['get', 'configmaps', '-n', runs],
      ['create', 'pods', '--subresource=exec', '-n', runs], ['list', 'agentruns.stromboli.dev', '--all-namespaces'],
      ['create', 'events.events.k8s.io', '-n', runs], ['get', 'leases.coordination.k8s.io', '-n', namespace],
      ['delete', 'customresourcedefinitions.apiextensions.k8s.io/agentruns.stromboli.dev'],
    ];
    for (const args of denied) expect(await canI(bed, apiConfig, args), `facade: can-i ${args.join(' ')}`).toBe(false);
  });
});

describe('the chart\'s identities doing their whole job', () => {
  it('a node agent with the agent\'s token and the DaemonSet\'s arguments runs an applied run to Succeeded, with its events and a promptFrom ConfigMap', async () => {
    const socket = await startPodmanService();
    const agentDir = await mkdtemp(join(tmpdir(), 'stromboli-chart-agent-'));
    cleanup.add('remove the agent state directory', () => rm(agentDir, { recursive: true, force: true }));
    const logToken = join(agentDir, 'log-token');
    await writeFile(logToken, await secretValue(`${fullname}-log-token`, 'token'), { mode: 0o600 });
    const rendered = containerOf('DaemonSet', `${fullname}-agent`);
    expect(rendered.env.find((e) => e.name === 'CONTAINER_HOST')?.value).toBe('unix:///run/podman/podman.sock');
    const args = [
      ...replaced(rendered.args, { '--state-dir': join(agentDir, 'state'), '--log-token-file': logToken, '--log-address': '0.0.0.0:0' }),
      '--kubeconfig', agentConfig,
    ];
    // What the pod's downward API and the chart's env give it, with this machine's values.
    const env = { NODE_NAME: nodeName, POD_IP: '127.0.0.1', POD_NAMESPACE: namespace, CONTAINER_HOST: `unix://${socket}` };
    const agent = await spawnStromboli(cleanup, { args, env, owner: `node-${nodeName}`, readyMessage: 'node agent started', what: 'the chart\'s node agent' });
    expect(agent.ready).toMatchObject({ nodeName, namespace: runs, kubeconfig: 'file' });

    const applied = await kubectl(bed, ['apply', '-n', runs, '-f', '-'], `apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata: {name: hello}\nspec: {prompt: hello from the chart}\n`);
    expect(applied.exitCode, applied.stderr).toBe(0);
    const status = await finished('hello');
    expect(status).toMatchObject({ phase: 'Succeeded', node: nodeName, result: 'echo: hello from the chart' });
    expect(status?.logRef).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/logs/${runs}/hello/`));
    await expect
      .poll(async () => {
        const got = await kubectl(bed, ['get', 'events.events.k8s.io', '-n', runs, '--field-selector', 'regarding.name=hello', '-o', 'json']);
        const items = (JSON.parse(got.stdout) as { items: Array<{ reason: string; reportingInstance: string }> }).items;
        return items.map((e) => `${e.reason}/${e.reportingInstance}`).sort();
      }, { timeout: 20_000, interval: 300 })
      .toEqual([`Claimed/${nodeName}`, `Running/${nodeName}`, `Succeeded/${nodeName}`]);

    const configMap = await kubectl(bed, ['create', 'configmap', 'prompts', '-n', runs, '--from-literal=task=the prompt from a configmap']);
    expect(configMap.exitCode, configMap.stderr).toBe(0);
    const fromConfigMap = await kubectl(bed, ['apply', '-n', runs, '-f', '-'], `apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata: {name: from-configmap}\nspec:\n  promptFrom: {configMapKeyRef: {name: prompts, key: task}}\n`);
    expect(fromConfigMap.exitCode, fromConfigMap.stderr).toBe(0);
    expect(await finished('from-configmap')).toMatchObject({ phase: 'Succeeded', result: 'echo: the prompt from a configmap' });
    expect(agent.logs.lines.filter((l) => /forbidden|event not recorded/i.test(JSON.stringify(l)))).toEqual([]);
  });

  it('a facade with the facade\'s token and the Deployment\'s arguments serves POST /run/async and reads the log from the node agent', async () => {
    const apiDir = await mkdtemp(join(tmpdir(), 'stromboli-chart-api-'));
    cleanup.add('remove the facade state directory', () => rm(apiDir, { recursive: true, force: true }));
    const logToken = join(apiDir, 'log-token');
    const tokens = join(apiDir, 'tokens');
    await writeFile(logToken, await secretValue(`${fullname}-log-token`, 'token'), { mode: 0o600 });
    apiToken = await secretValue(`${fullname}-api-token`, 'tokens');
    expect(apiToken).toMatch(/^[A-Za-z0-9]{48}$/);
    await writeFile(tokens, apiToken, { mode: 0o600 });
    const rendered = containerOf('Deployment', `${fullname}-api`);
    const args = [
      ...replaced(rendered.args, { '--host': '127.0.0.1', '--port': '0', '--state-dir': join(apiDir, 'state'), '--log-token-file': logToken, '--api-token-file': tokens }),
      '--kubeconfig', apiConfig,
    ];
    const facade = await spawnStromboli(cleanup, { args, owner: `api-${release}`, readyMessage: 'stromboli api serving', what: 'the chart\'s facade' });
    facadeUrl = String(facade.ready['url']);
    expect(facade.ready).toMatchObject({ namespace: runs, auth: true, logToken: true });
    const auth = { authorization: `Bearer ${apiToken}` };
    expect((await fetch(`${facadeUrl}/health`)).status).toBe(200);
    expect((await fetch(`${facadeUrl}/jobs`)).status).toBe(401);

    const posted = await fetch(`${facadeUrl}/run/async`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'async through the chart' }) });
    expect(posted.status).toBe(202);
    const { job_id: id } = (await posted.json()) as { job_id: string };
    await expect
      .poll(async () => ((await (await fetch(`${facadeUrl}/jobs/${id}`, { headers: auth })).json()) as { status: string }).status, { timeout: 120_000, interval: 500 })
      .toBe('completed');
    const job = (await (await fetch(`${facadeUrl}/jobs/${id}`, { headers: auth })).json()) as { output: string };
    expect(job.output).toBe('echo: async through the chart');
    expect((await agentRun(id))?.status?.node).toBe(nodeName);

    const log = await fetch(`${facadeUrl}/apis/stromboli.dev/v1alpha1/namespaces/${runs}/agentruns/${id}/log`, { headers: auth });
    expect(log.status).toBe(200);
    const lines = (await log.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type?: string });
    expect(lines.map((l) => l.type)).toContain('result');

    const cancelled = await fetch(`${facadeUrl}/apis/stromboli.dev/v1alpha1/namespaces/${runs}/agentruns/${id}`, { method: 'DELETE', headers: auth });
    expect(cancelled.status).toBeLessThan(300);
    await expect.poll(async () => (await agentRun(id)) === undefined, { timeout: 30_000, interval: 300 }).toBe(true);
  });
});

describe('a cluster-wide install (watchNamespace "")', () => {
  it('binds the agent to agentruns in every namespace, and to Secrets only where promptFrom is listed', async () => {
    const wide = uniqueName('wide');
    const wideNs = `${namespace}-wide`;
    expect((await kubectl(bed, ['create', 'namespace', wideNs])).exitCode).toBe(0);
    cleanup.add(`delete namespace ${wideNs}`, async () => {
      await kubectl(bed, ['delete', 'namespace', wideNs, '--wait=false']);
    });
    const installed = await helm(bed, ['install', wide, CHART_DIR, '--namespace', wideNs, '--set', `promptFrom.namespaces={${runs}}`, '--set', 'promptFrom.secrets=false', '--set', 'api.enabled=false']);
    expect(installed.exitCode, installed.stderr).toBe(0);
    cleanup.add(`helm uninstall ${wide}`, async () => {
      await helm(bed, ['uninstall', wide, '--namespace', wideNs]);
    });
    const token = await serviceAccountKubeconfig(bed, wideNs, `${wide}-stromboli-agent`, dir);
    for (const args of [['list', 'agentruns.stromboli.dev', '--all-namespaces'], ['watch', 'agentruns.stromboli.dev', '--all-namespaces'], ['create', 'events.events.k8s.io', '-n', other], ['get', 'configmaps', '-n', runs]]) {
      expect(await canI(bed, token, args), `can-i ${args.join(' ')}`).toBe(true);
    }
    for (const args of [['get', 'secrets', '-n', runs], ['list', 'secrets', '--all-namespaces'], ['get', 'configmaps', '-n', other], ['create', 'pods', '--subresource=exec', '-n', other], ['create', 'agentruns.stromboli.dev', '-n', other]]) {
      expect(await canI(bed, token, args), `can-i ${args.join(' ')}`).toBe(false);
    }
    expect(await ruleTable(bed, token, other)).toEqual([
      'agentruns.stromboli.dev/finalizers: update',
      'agentruns.stromboli.dev/status: get patch update',
      'agentruns.stromboli.dev: delete get list patch watch',
      'events.events.k8s.io: create patch',
      'namespaces: get',
    ]);
  });
});
