// Starts the test control plane by hand, for debugging or for running suites against a server
// that outlives one vitest run:
//   node test-infra/kube/serve.ts            # prints the kubeconfig path, stops on Ctrl-C / SIGTERM
// Then, in another shell: KUBECONFIG=<path> kubectl get ns, or
//   STROMBOLI_TEST_KUBECONFIG=<path> npx vitest run --project kube
import { startTestControlPlane } from './harness.ts';
import { readKubeTools, runKubeSetup } from './tools.ts';

await runKubeSetup();
const tools = readKubeTools();
const plane = await startTestControlPlane({ tools, log: (line) => process.stderr.write(`kube test bed: ${line}\n`) });
process.stdout.write(`KUBECONFIG=${plane.kubeconfigPath}\nKUBECTL=${tools.kubectl}\n`);
process.stderr.write('kube test bed: running; Ctrl-C or SIGTERM stops it\n');

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  plane.stop().then(
    () => process.exit(0),
    (err: unknown) => { process.stderr.write(`kube test bed: stop failed: ${String(err)}\n`); process.exit(1); },
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
