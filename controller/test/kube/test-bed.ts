// What the kube project's suites get from global-setup.ts: where the API server is and which
// kubectl/helm to run, plus small helpers to run those CLIs. Import from test files only.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../../test-infra/kube/tools.ts';
import { expect, inject } from 'vitest';

/** The test bed one vitest run shares (one control plane per run, a namespace per test file). */
export interface KubeTestBed {
  /** Admin kubeconfig (system:masters). */
  readonly kubeconfigPath: string;
  /** API server URL from that kubeconfig. */
  readonly server: string;
  /** kubectl binary (built by test-infra/kube/setup.sh, or $KUBECTL). */
  readonly kubectl: string;
  /** helm binary (built by test-infra/kube/setup.sh, or $HELM). */
  readonly helm: string;
  /** kstatus checker (test-infra/kstatus, built by test-infra/kube/setup.sh, or $KSTATUS): objects on stdin, one JSON line each. */
  readonly kstatus: string;
  /** True when STROMBOLI_TEST_KUBECONFIG named an existing cluster instead of a local control plane. */
  readonly external: boolean;
  /** Kubernetes version of the local control plane; empty for an external cluster. */
  readonly k8sVersion: string;
  /** Per-run scratch folder for test files (removed at teardown). */
  readonly scratchDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    kubeTestBed: KubeTestBed;
  }
}

/** The test bed provided by global-setup.ts; throws when the kube project's globalSetup did not run. */
export function kubeTestBed(): KubeTestBed {
  const bed = inject('kubeTestBed');
  if (bed === undefined) throw new Error('kubeTestBed was not provided: run this suite with `vitest run --project kube`');
  return bed;
}

/** Outcome of one CLI run; never thrown for a non-zero exit, so tests assert on it. */
export interface ToolResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a binary with argv and optional stdin; resolves with its exit code and output. */
export async function runTool(
  file: string, args: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ToolResult> {
  return await new Promise((resolveResult) => {
    const child = execFile(
      file, args, { env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolveResult({ exitCode: code, stdout, stderr: err !== null && stderr === '' ? err.message : stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** A fresh folder under the run's scratch dir, for one test file's manifests and CLI state. */
export function scratchDir(bed: KubeTestBed, prefix: string): string {
  return mkdtempSync(join(bed.scratchDir, `${prefix}-`));
}

// One kubectl discovery cache and one helm home per test file, so nothing lands in $HOME.
let cliState: string | undefined;
function cliDir(bed: KubeTestBed): string {
  cliState ??= scratchDir(bed, 'cli');
  return cliState;
}

/** Runs kubectl against the test bed's cluster. */
export async function kubectl(bed: KubeTestBed, args: readonly string[], input?: string): Promise<ToolResult> {
  const all = [`--kubeconfig=${bed.kubeconfigPath}`, `--cache-dir=${join(cliDir(bed), 'kube-cache')}`, ...args];
  return await runTool(bed.kubectl, all, input === undefined ? {} : { input });
}

/** Runs helm with its cache, config and data homes in a scratch folder. */
export async function helm(bed: KubeTestBed, args: readonly string[]): Promise<ToolResult> {
  return await runTool(bed.helm, args, {
    env: {
      KUBECONFIG: bed.kubeconfigPath,
      HELM_CACHE_HOME: join(cliDir(bed), 'helm', 'cache'),
      HELM_CONFIG_HOME: join(cliDir(bed), 'helm', 'config'),
      HELM_DATA_HOME: join(cliDir(bed), 'helm', 'data'),
    },
  });
}

/** A DNS-1123 name unique to this run, for namespaces and objects tests create. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}

/** Creates `namespace` and applies the AgentRun CRD (idempotent), waiting until it is Established. */
export async function createNamespaceWithCrd(bed: KubeTestBed, namespace: string): Promise<void> {
  for (const args of [['create', 'namespace', namespace], ['apply', '-f', join(REPO_ROOT, 'crds', 'agentrun.yaml')]]) {
    const result = await kubectl(bed, args);
    expect(result.exitCode, result.stderr).toBe(0);
  }
  const established = await kubectl(bed, ['wait', '--for=condition=Established', '--timeout=60s', 'crd/agentruns.stromboli.dev']);
  expect(established.exitCode, established.stderr).toBe(0);
}
