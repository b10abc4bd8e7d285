// Shared by bench/overhead.ts and bench/real-cli.ts: the same measurement (manifest written to
// the watched directory → status Succeeded, or a synchronous POST /run answered, next to a bare
// `podman run --rm` in the same process, interleaved) and the same report (median, p95, ratios).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EmbeddedServer } from '../cmd/serve.ts';
import type { AgentRunStatus } from '../contract/apis/v1alpha1/index.ts';
import type { ResourceStore } from '../contract/store/store.ts';

/** The q-quantile (nearest rank) of the samples; NaN for none. */
export function quantile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] ?? NaN;
}

/** `label  median N ms   p95 N ms`, aligned as bench/overhead has always printed it. */
export function formatRow(label: string, samples: readonly number[]): string {
  return `${label.padEnd(34)} median ${quantile(samples, 0.5).toFixed(0).padStart(6)} ms   p95 ${quantile(samples, 0.95).toFixed(0).padStart(6)} ms`;
}

export interface OverheadReport {
  /** First line, e.g. `bench/overhead: 20 runs of <image> (plain answer), interleaved`. */
  title: string;
  controllerMs: readonly number[];
  bareMs: readonly number[];
  /** Optional further series (label → samples), each printed with its ratio to the bare runs. */
  more?: Readonly<Record<string, readonly number[]>>;
}

/** Prints the report: the two rows and the median and p95 ratios (controller / bare). */
export function printReport(report: OverheadReport): void {
  const { controllerMs, bareMs } = report;
  console.log(report.title);
  console.log(formatRow('manifest written → Succeeded', controllerMs));
  console.log(formatRow('bare podman run --rm (baseline)', bareMs));
  console.log(`ratio (median controller / median bare): ${(quantile(controllerMs, 0.5) / quantile(bareMs, 0.5)).toFixed(2)}`);
  console.log(`ratio (p95 controller / p95 bare):       ${(quantile(controllerMs, 0.95) / quantile(bareMs, 0.95)).toFixed(2)}`);
  console.log(`added (median controller - median bare):  ${(quantile(controllerMs, 0.5) - quantile(bareMs, 0.5)).toFixed(0)} ms`);
  for (const [label, samples] of Object.entries(report.more ?? {})) {
    console.log(formatRow(label, samples));
    console.log(`  ratio to bare: median ${(quantile(samples, 0.5) / quantile(bareMs, 0.5)).toFixed(2)}, p95 ${(quantile(samples, 0.95) / quantile(bareMs, 0.95)).toFixed(2)}; added median ${(quantile(samples, 0.5) - quantile(bareMs, 0.5)).toFixed(0)} ms`);
  }
}

/**
 * A synchronous `POST /run` (Stromboli's wire format) against the server at `url`: resolves with
 * the milliseconds until the answer, rejects unless it is 200 with status "completed".
 */
export async function timeSyncRun(url: string, prompt: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${url}/run`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt }) });
  const body = (await response.json()) as { status?: string; error?: string };
  const elapsed = performance.now() - started;
  if (response.status !== 200 || body.status !== 'completed') throw new Error(`POST /run answered ${response.status} ${body.status ?? ''}: ${body.error ?? ''}`);
  return elapsed;
}

/**
 * Writes `<name>.yaml` (an AgentRun with `prompt`) into the watched directory and resolves with
 * the milliseconds until its status says Succeeded; rejects when it ends any other way.
 */
export async function timeManifestRun(server: EmbeddedServer, runsDir: string, name: string, prompt: string): Promise<number> {
  const watch = new AbortController();
  const started = performance.now();
  const done = (async () => {
    for await (const event of server.store.watch(watch.signal)) {
      const phase = event.object.status?.phase;
      if (event.object.metadata.name !== name || phase === undefined || !['Succeeded', 'Failed', 'Cancelled'].includes(phase)) continue;
      if (phase !== 'Succeeded') throw new Error(`${name} ended ${phase}: ${event.object.status?.message ?? ''}`);
      return performance.now() - started;
    }
    throw new Error('watch ended');
  })();
  try {
    await writeFile(join(runsDir, `${name}.yaml`), `apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata:\n  name: ${name}\nspec:\n  prompt: ${JSON.stringify(prompt)}\n`);
    return await done;
  } finally {
    watch.abort();
  }
}

/** Resolves with the ms from `started` until every name in `names` is Succeeded (it empties `names`); rejects on another end. */
export async function allSucceeded(store: Pick<ResourceStore<AgentRunStatus>, 'watch'>, names: Set<string>, started: number, signal: AbortSignal): Promise<number> {
  for await (const event of store.watch(signal)) {
    const phase = event.object.status?.phase;
    if (!names.has(event.object.metadata.name) || phase === undefined || !['Succeeded', 'Failed', 'Cancelled'].includes(phase)) continue;
    if (phase !== 'Succeeded') throw new Error(`${event.object.metadata.name} ended ${phase}: ${event.object.status?.message ?? ''}`);
    names.delete(event.object.metadata.name);
    if (names.size === 0) return performance.now() - started;
  }
  throw new Error('watch ended');
}
