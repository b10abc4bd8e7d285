// Where the Kubernetes test bed's binaries are: test-infra/kube/setup.sh builds or finds them and
// writes their paths to <cache>/tools.env; this module runs that script and reads the file.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root, found from this file's location so callers may run from any folder. */
export const REPO_ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The test bed's cache folder (git-ignored); STROMBOLI_KUBE_CACHE overrides it, as in setup.sh. */
export const KUBE_CACHE_DIR: string = process.env['STROMBOLI_KUBE_CACHE'] ?? join(REPO_ROOT, '.cache', 'kube');

/** The script that builds or finds the binaries; idempotent and fast once cached. */
export const KUBE_SETUP_SCRIPT: string = join(REPO_ROOT, 'test-infra', 'kube', 'setup.sh');

/** Absolute paths of the binaries the test bed runs. */
export interface KubeTools {
  /** kube-apiserver; empty when STROMBOLI_TEST_KUBECONFIG names an existing cluster. */
  readonly kubeApiserver: string;
  /** etcd; empty when STROMBOLI_TEST_KUBECONFIG names an existing cluster. */
  readonly etcd: string;
  /** kubectl, for the tests that exercise the user's `kubectl apply` path. */
  readonly kubectl: string;
  /** helm, for chart lint and template checks. */
  readonly helm: string;
  /** The kstatus checker (test-infra/kstatus): prints what sigs.k8s.io/cli-utils' kstatus computes per object. */
  readonly kstatus: string;
  /** Kubernetes version the cached binaries were built at (informational). */
  readonly k8sVersion: string;
}

/**
 * Reads the tools.env that setup.sh wrote. Throws, naming the fix, when it is missing or
 * incomplete: the test bed fails loudly rather than skipping.
 */
export function readKubeTools(file: string = join(KUBE_CACHE_DIR, 'tools.env')): KubeTools {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new Error(`kube test bed: ${file} is missing; run \`bash test-infra/kube/setup.sh\` first`, { cause });
  }
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.includes('=')) continue;
    const at = line.indexOf('=');
    values.set(line.slice(0, at), line.slice(at + 1));
  }
  const get = (key: string): string => values.get(key) ?? '';
  const tools: KubeTools = {
    kubeApiserver: get('KUBE_APISERVER'),
    etcd: get('ETCD'),
    kubectl: get('KUBECTL'),
    helm: get('HELM'),
    kstatus: get('KSTATUS'),
    k8sVersion: get('K8S_VERSION'),
  };
  if (tools.kubectl === '' || tools.helm === '' || tools.kstatus === '') {
    throw new Error(`kube test bed: ${file} names no kubectl, helm or kstatus; re-run \`bash test-infra/kube/setup.sh\``);
  }
  return tools;
}

/**
 * Runs setup.sh (builds on first use, else only checks the cache), with its progress on our
 * stderr. Rejects with the script's exit status; the script itself prints the failed step.
 */
export async function runKubeSetup(): Promise<void> {
  await new Promise<void>((resolvePromise, reject) => {
    const child = spawn('bash', [KUBE_SETUP_SCRIPT], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', (err) => reject(new Error(`kube test bed: could not run ${KUBE_SETUP_SCRIPT}`, { cause: err })));
    child.once('exit', (code, signal) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`kube test bed: ${KUBE_SETUP_SCRIPT} failed (exit ${code ?? signal}); its output above names the failed step`));
    });
  });
}
