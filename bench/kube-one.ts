// bench/kube-one: one run applied with kubectl to a real kube-apiserver (the test bed's, started
// here) → status Succeeded through a node agent, next to the same run written into an embedded
// server's watched directory → Succeeded, interleaved in the same process so machine noise hits
// both alike. Prints medians, p95 and their ratio. Needs the kube test bed's binaries
// (test-infra/kube/setup.sh) and the fake image.
// Usage: node bench/kube-one.ts [--runs 10]
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { ServeConfigSchema } from '../cmd/config.ts';
import { startKubeNodeAgent } from '../cmd/kube.ts';
import { startEmbedded } from '../cmd/serve.ts';
import { createLogger } from '../controller/src/log.ts';
import { startTestControlPlane } from '../test-infra/kube/harness.ts';
import { readKubeTools, REPO_ROOT } from '../test-infra/kube/tools.ts';
import { formatRow, quantile, timeManifestRun } from './lib.ts';

const exec = promisify(execFile);
const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' } } });
const runs = Number(values.runs);
const image = 'localhost/stromboli/fake-claude:latest';
const namespace = 'bench';

async function main(): Promise<void> {
  const tools = readKubeTools();
  const plane = await startTestControlPlane({ tools });
  const dir = await mkdtemp(join(tmpdir(), 'bench-kube-'));
  const log = createLogger({ level: 'error' });
  const kubectl = (args: string[], input?: string) =>
    new Promise<string>((resolve, reject) => {
      const child = execFile(tools.kubectl, [`--kubeconfig=${plane.kubeconfigPath}`, ...args], (err, stdout, stderr) => (err === null ? resolve(stdout) : reject(new Error(stderr || err.message))));
      child.stdin?.end(input ?? '');
    });
  const common = { containersConf: join(REPO_ROOT, 'config', 'containers.conf'), image, maxConcurrentRuns: 1, pollMs: 1000 };
  const runsDir = join(dir, 'runs');
  await mkdir(runsDir, { recursive: true });
  await kubectl(['apply', '-f', join(REPO_ROOT, 'crds', 'agentrun.yaml')]);
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/agentruns.stromboli.dev']);
  await kubectl(['create', 'namespace', namespace]);
  const agent = await startKubeNodeAgent(ServeConfigSchema.parse({ ...common, stateDir: join(dir, 'node-state') }), { kubeconfig: plane.kubeconfigPath, namespace, nodeName: 'bench-node' }, log, {});
  const server = await startEmbedded(ServeConfigSchema.parse({ ...common, runsDir, stateDir: join(dir, 'embedded-state'), port: 0 }), log, { env: {} });
  const kubeMs: number[] = [];
  const embeddedMs: number[] = [];
  const kubeRun = async (name: string): Promise<number> => {
    const manifest = `apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec: {prompt: "bench ${name}"}\n`;
    const started = performance.now();
    await kubectl(['apply', '-f', '-'], manifest);
    await kubectl(['wait', '-n', namespace, '--for=condition=Succeeded', '--timeout=120s', `agentrun/${name}`]);
    return performance.now() - started;
  };
  try {
    for (let i = -1; i < runs; i += 1) {
      const k = await kubeRun(`kube-${i + 1}`);
      const e = await timeManifestRun(server, runsDir, `embedded-${i + 1}`, `bench embedded ${i}`);
      if (i < 0) continue; // warm-up of both
      kubeMs.push(k);
      embeddedMs.push(e);
    }
  } finally {
    await server.close();
    await agent.close();
    await plane.stop();
    await exec('podman', ['rm', '-f', '--filter', 'label=stromboli.dev/owner=node-bench-node']).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
  console.log(`bench/kube-one: ${runs} runs of ${image}, one at a time, interleaved`);
  console.log(formatRow('kubectl apply → kubectl wait Succeeded', kubeMs));
  console.log(formatRow('embedded: manifest → Succeeded', embeddedMs));
  console.log(`ratio (median kube / median embedded): ${(quantile(kubeMs, 0.5) / quantile(embeddedMs, 0.5)).toFixed(2)}`);
}

await main();
