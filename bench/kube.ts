// bench/kube (issue 11): N AgentRuns applied at once with one `kubectl apply` to a real
// kube-apiserver (the test bed's, started here), shared by two node agents (claims, Leases, the
// janitor: docs/multi-node.md) with --max-concurrent-runs P/2 each, until all are Succeeded;
// next to the same N manifests written at once into an embedded server with
// --max-concurrent-runs P (the same total concurrency), measured in the same run, embedded
// first. Both agents run in this process (one event loop, as the embedded server has). Prints
// both wall times and their ratio (kube / embedded; the issue's goal is <= 1.3). Never asserts.
// Needs the kube test bed's binaries (test-infra/kube/setup.sh) and the fake image.
// Usage: node bench/kube.ts [--runs 200] [--parallel 8]
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { ServeConfigSchema } from '../cmd/config.ts';
import { startKubeNodeAgent } from '../cmd/kube.ts';
import { startEmbedded } from '../cmd/serve.ts';
import { createLogger } from '../controller/src/log.ts';
import { startTestControlPlane } from '../test-infra/kube/harness.ts';
import { readKubeTools, REPO_ROOT } from '../test-infra/kube/tools.ts';
import { allSucceeded } from './lib.ts';

const exec = promisify(execFile);
const { values } = parseArgs({ options: { runs: { type: 'string', default: '200' }, parallel: { type: 'string', default: '8' } } });
const runs = Number(values.runs);
const parallel = Number(values.parallel);
const image = 'localhost/stromboli/fake-claude:latest';
const namespace = 'bench';
const containersConf = join(REPO_ROOT, 'config', 'containers.conf');
const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

function manifest(name: string, withNamespace: boolean): string {
  return `apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata:\n  name: ${name}\n${withNamespace ? `  namespace: ${namespace}\n` : ''}spec:\n  prompt: ${JSON.stringify(`bench ${name}`)}\n`;
}

async function embeddedBurst(dir: string): Promise<number> {
  const runsDir = join(dir, 'runs');
  await mkdir(runsDir, { recursive: true });
  const server = await startEmbedded(ServeConfigSchema.parse({ runsDir, stateDir: join(dir, 'embedded-state'), port: 0, containersConf, image, maxConcurrentRuns: parallel, pollMs: 1000 }), createLogger({ level: 'error' }), { env: {} });
  const watch = new AbortController();
  try {
    const names = new Set(Array.from({ length: runs }, (_, i) => `embedded-${i}`));
    const started = performance.now();
    const done = allSucceeded(server.store, names, started, watch.signal);
    await Promise.all([...names].map((name) => writeFile(join(runsDir, `${name}.yaml`), manifest(name, false))));
    return await done;
  } finally {
    watch.abort();
    await server.close();
  }
}

async function kubeBurst(dir: string): Promise<number> {
  const tools = readKubeTools();
  const plane = await startTestControlPlane({ tools });
  const kubectl = (args: string[], input?: string): Promise<string> =>
    new Promise((resolveRun, reject) => {
      const child = execFile(tools.kubectl, [`--kubeconfig=${plane.kubeconfigPath}`, ...args], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => (err === null ? resolveRun(stdout) : reject(new Error(stderr || err.message))));
      child.stdin?.end(input ?? '');
    });
  const log = createLogger({ level: 'error' });
  const agents: Array<Awaited<ReturnType<typeof startKubeNodeAgent>>> = [];
  const watch = new AbortController();
  try {
    await kubectl(['apply', '--server-side', '-f', join(REPO_ROOT, 'crds', 'agentrun.yaml')]);
    await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/agentruns.stromboli.dev']);
    await kubectl(['create', 'namespace', namespace]);
    for (const node of ['bench-a', 'bench-b']) {
      const config = ServeConfigSchema.parse({ stateDir: join(dir, `${node}-state`), containersConf, image, maxConcurrentRuns: Math.max(1, parallel / 2), pollMs: 1000 });
      agents.push(await startKubeNodeAgent(config, { kubeconfig: plane.kubeconfigPath, namespace, nodeName: node, leaseNamespace: namespace }, log, {}));
    }
    const names = new Set(Array.from({ length: runs }, (_, i) => `kube-${i}`));
    const store = agents[0]?.store;
    if (store === undefined) throw new Error('no agent started');
    const started = performance.now();
    const done = allSucceeded(store, names, started, watch.signal);
    await kubectl(['apply', '-f', '-'], [...names].map((name) => manifest(name, true)).join('---\n'));
    return await done;
  } finally {
    watch.abort();
    for (const agent of agents) await agent.close();
    await plane.stop();
    for (const node of ['bench-a', 'bench-b']) await exec('podman', ['rm', '-f', '--filter', `label=stromboli.dev/owner=node-${node}`]).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-kube-'));
  const loads = [loadavg()];
  try {
    const embeddedMs = await embeddedBurst(dir);
    loads.push(loadavg());
    const kubeMs = await kubeBurst(dir);
    loads.push(loadavg());
    console.log(`bench/kube: ${runs} runs of ${image} applied at once, ${parallel} at a time in total; load ${loads.join(' -> ')}`);
    console.log(`embedded, --max-concurrent-runs ${parallel}                      wall ${embeddedMs.toFixed(0)} ms  (${((runs / embeddedMs) * 1000).toFixed(2)} runs/s)`);
    console.log(`kube, 2 node agents x --max-concurrent-runs ${parallel / 2}         wall ${kubeMs.toFixed(0)} ms  (${((runs / kubeMs) * 1000).toFixed(2)} runs/s)`);
    console.log(`ratio (kube wall / embedded wall): ${(kubeMs / embeddedMs).toFixed(2)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
