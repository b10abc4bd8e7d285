// AgentRun manifests, waiting for a run's phase (polling, never sleeping), the persisted
// stream-json log, the HTTP API and the `stromboli` CLI, for the e2e suites.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, vi } from 'vitest';
import { stringify } from 'yaml';
import type { AgentRunStatus, Phase } from '../../../contract/apis/v1alpha1/index.ts';
import { API_VERSION, KIND, isTerminalPhase, reasonOf } from '../../../contract/apis/v1alpha1/index.ts';
import { CliError } from '../../../cmd/cli/client.ts';
import { main } from '../../../cmd/stromboli.ts';
import { NotFoundError } from '../../../contract/errors.ts';
import type { Run } from './embedded-server.ts';
import { FAKE_IMAGE } from './repo.ts';
import { parseK8sLog } from '../../src/runner/k8s-log.ts';

export { reasonOf };

/** A manifest document: the spec given, the fake image unless the spec names one. */
export function agentRun(name: string, spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): Record<string, unknown> {
  const podman = { image: FAKE_IMAGE, ...((spec['podman'] as Record<string, unknown> | undefined) ?? {}) };
  return { apiVersion: API_VERSION, kind: KIND, metadata: { name, ...metadata }, spec: { ...spec, podman } };
}

/** Writes `docs` as one (multi-document) YAML file under runsDir; returns its path. */
export async function writeManifest(runsDir: string, file: string, ...docs: Array<Record<string, unknown>>): Promise<string> {
  const path = join(runsDir, file);
  await writeFile(path, docs.map((d) => stringify(d)).join('---\n'));
  return path;
}

/** Reads a run; undefined while it does not exist. */
export type RunReader = () => Promise<Run | undefined>;

/** A RunReader over anything whose get() throws NotFoundError for a missing run (the store). */
export function storeReader(get: (name: string) => Promise<Run>, name: string): RunReader {
  return async () => {
    try {
      return await get(name);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  };
}

/** A RunReader over the HTTP API (GET /apis/stromboli.dev/v1alpha1/namespaces/<ns>/agentruns/<name>). */
export function apiReader(url: string, name: string, namespace = 'default'): RunReader {
  return async () => {
    const response = await fetch(new URL(`/apis/${API_VERSION}/namespaces/${namespace}/agentruns/${name}`, url));
    if (response.status === 404) return undefined;
    if (!response.ok) throw new Error(`GET ${name}: HTTP ${response.status} ${await response.text()}`);
    return (await response.json()) as Run;
  };
}

function describeRun(run: Run | undefined): string {
  if (run === undefined) return 'not found';
  const s: AgentRunStatus | undefined = run.status;
  return `${s?.phase ?? '<no phase>'}/${reasonOf(s) ?? '<no reason>'} (${s?.message ?? 'no message'})`;
}

export interface WaitOptions {
  /** Default 90 s. */
  timeoutMs?: number;
  /** Default 250 ms. */
  intervalMs?: number;
}

/** Polls until `check(run)` holds; returns the run. `check` gets undefined while the run is missing. */
export async function waitForRun(read: RunReader, what: string, check: (run: Run | undefined) => boolean, options: WaitOptions = {}): Promise<Run | undefined> {
  return vi.waitFor(
    async () => {
      const run = await read();
      if (!check(run)) throw new Error(`waiting for ${what}; the run is ${describeRun(run)}`);
      return run;
    },
    { timeout: options.timeoutMs ?? 90_000, interval: options.intervalMs ?? 250 },
  );
}

/**
 * Polls until the run is in `phase` (with the `Succeeded` condition's `reason`, when given).
 * Stops early when the run reaches another terminal phase, and fails saying where it ended.
 */
export async function waitForPhase(read: RunReader, phase: Phase, reason?: string, options: WaitOptions = {}): Promise<Run> {
  const matches = (run: Run | undefined): boolean => run?.status?.phase === phase && (reason === undefined || reasonOf(run.status) === reason);
  const run = await waitForRun(read, `phase ${phase}${reason === undefined ? '' : `/${reason}`}`, (r) => matches(r) || isTerminalPhase(r?.status?.phase), options);
  if (run === undefined || !matches(run)) {
    expect.fail(`expected ${run?.metadata.name ?? 'the run'} to reach ${phase}${reason === undefined ? '' : `/${reason}`}, but it is ${describeRun(run)}`);
  }
  return run;
}

/** Polls until the run no longer exists. */
export async function waitForGone(read: RunReader, options: WaitOptions = {}): Promise<void> {
  await waitForRun(read, 'the run to be gone', (r) => r === undefined, options);
}

/**
 * The events of a persisted stream-json log (attempt-N.jsonl), one per line. While the attempt
 * runs on the REST path, its transcript is conmon's attempt-N.k8s.log beside it (the jsonl is
 * exported when the attempt ends): read that one when it exists, as the server's readers do.
 */
export async function readLogEvents(path: string): Promise<Array<Record<string, unknown>>> {
  const k8s = path.endsWith('.jsonl') ? await readFile(path.replace(/\.jsonl$/, '.k8s.log'), 'utf8').catch(() => undefined) : undefined;
  const text = k8s === undefined ? await readFile(path, 'utf8') : parseK8sLog(k8s).stdout.join('\n');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Path of an attempt's log under the state directory (docs/reconcile.md). */
export function attemptLogPath(stateDir: string, run: Run, attempt = 1): string {
  return join(stateDir, 'logs', run.metadata.namespace, run.metadata.name, run.metadata.uid, `attempt-${attempt}.jsonl`);
}

/** Runs the `stromboli` CLI in-process (cmd/stromboli.ts) against `url`; returns its output, or the CliError. */
export async function runCli(url: string, argv: readonly string[]): Promise<{ out: string; error?: CliError }> {
  let out = '';
  try {
    await main([...argv, '--server', url], (text) => {
      out += text;
    });
    return { out };
  } catch (err) {
    if (err instanceof CliError) return { out, error: err };
    throw err;
  }
}

/** Usage the fake CLI derives from a prompt of L UTF-8 bytes, for one model call (images/fake-claude/claude, usage_json). */
export function expectedUsage(prompt: string, previousPrompts: readonly string[] = []): Record<string, number | string> {
  const l = Buffer.byteLength(prompt, 'utf8');
  // total_cost_usd is cumulative over a session: 100 micro-USD per prompt byte per call.
  const micro = [prompt, ...previousPrompts].reduce((sum, p) => sum + 100 * Buffer.byteLength(p, 'utf8'), 0);
  return {
    inputTokens: l,
    outputTokens: 2 * l,
    cacheCreationInputTokens: 3 * l,
    cacheReadInputTokens: 4 * l,
    costUSD: micro / 1_000_000,
    numTurns: 1,
    model: 'claude-sonnet-5-5',
  };
}
