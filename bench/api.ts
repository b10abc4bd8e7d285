// bench/api: what the HTTP facade costs per request. autocannon drives, on loopback and for a
// bounded time, (a) a bare Fastify route answering a small JSON (the baseline), (b)
// GET /jobs/{id} and (c) POST /run/async of the real app (buildApp) over a real FileStore in a
// temp directory — no controller runs, so nothing starts a container: this measures the facade
// and the store. All three in the same process and run, so machine noise hits them alike.
// --stored N first creates N API runs (jobs) in the store, so the per-request figures show
// whether a route's cost grows with the number of stored runs; GET /jobs (every job) and the
// native list, unpaged and one page of 500, are then timed a few times each.
// Usage: node bench/api.ts [--seconds 5] [--connections 10] [--stored 0]
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { buildApp } from '../api-server/src/app.ts';
import type { AgentRunStatus } from '../contract/apis/v1alpha1/index.ts';
import { FileStore } from '../controller/src/store/file/file-store.ts';
import { SOURCE_API, SOURCE_LABEL } from '../api-server/src/run-facade/names.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, connections: { type: 'string', default: '10' }, stored: { type: 'string', default: '0' } },
});
const duration = Number(values.seconds);
const connections = Number(values.connections);
const stored = Number(values.stored);

/** Creates `count` runs as POST /run/async would (the source label, a job name), 50 writes at a time. */
async function storeJobs(store: FileStore<AgentRunStatus>, count: number): Promise<void> {
  for (let from = 0; from < count; from += 50) {
    const batch = [];
    for (let i = from; i < Math.min(count, from + 50); i += 1) {
      const name = `job-${i.toString(16).padStart(16, '0')}`;
      batch.push(store.create({ apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: { name, labels: { [SOURCE_LABEL]: SOURCE_API } }, spec: { prompt: `stored ${i}` } }));
    }
    await Promise.all(batch);
  }
}

/** Median ms of `times` sequential GETs of `url`. */
async function timeGet(url: string, times: number): Promise<{ ms: number; bytes: number }> {
  const samples: number[] = [];
  let bytes = 0;
  for (let i = 0; i < times; i += 1) {
    const started = performance.now();
    const response = await fetch(url);
    bytes = (await response.arrayBuffer()).byteLength;
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  return { ms: samples[Math.floor(samples.length / 2)] ?? NaN, bytes };
}

interface Measured {
  label: string;
  rps: number;
  p99: number;
  errors: number;
}

async function drive(label: string, options: autocannon.Options): Promise<Measured> {
  const result = await autocannon({ duration, connections, ...options });
  const bad = result.non2xx + result.errors + result.timeouts;
  return { label, rps: result.requests.average, p99: result.latency.p99, errors: bad };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-api-'));
  await mkdir(join(dir, 'runs'));
  const store = await FileStore.open<AgentRunStatus>({ runsDir: join(dir, 'runs'), stateDir: join(dir, 'state') });
  const bare = Fastify({ logger: false });
  bare.get('/bare', async () => ({ id: 'job-0123456789abcdef', status: 'completed' }));
  const app = await buildApp({
    runs: store,
    logs: {
      async *lines() {
        // no transcript: the bench never starts a run
      },
    },
  });
  try {
    const storing = performance.now();
    await storeJobs(store, stored);
    const storedMs = performance.now() - storing;
    const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 });
    const appUrl = await app.listen({ host: '127.0.0.1', port: 0 });
    // One finished-looking job to read.
    const created = await fetch(`${appUrl}/run/async`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'bench' }) });
    const { job_id: jobId } = (await created.json()) as { job_id: string };
    // Warm-up of each target.
    await autocannon({ url: `${bareUrl}/bare`, duration: 1, connections });
    await autocannon({ url: `${appUrl}/jobs/${jobId}`, duration: 1, connections });
    const results = [
      await drive('bare Fastify route (baseline)', { url: `${bareUrl}/bare` }),
      await drive(`GET /jobs/{id}`, { url: `${appUrl}/jobs/${jobId}` }),
      await drive('POST /run/async (creates an AgentRun)', {
        url: `${appUrl}/run/async`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'bench run', claude: { model: 'sonnet', max_turns: 3 } }),
      }),
    ];
    const base = results[0]?.rps ?? NaN;
    console.log(`bench/api: ${duration} s per target, ${connections} connections, loopback, ${stored} runs stored first (${storedMs.toFixed(0)} ms), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    for (const r of results) {
      console.log(
        `${r.label.padEnd(40)} ${r.rps.toFixed(0).padStart(7)} req/s   p99 ${String(r.p99).padStart(4)} ms   ratio to bare ${(r.rps / base).toFixed(3)}${r.errors > 0 ? `   (${r.errors} non-2xx/errors)` : ''}`,
      );
    }
    console.log(`runs created by the POST bench: ${(await store.list()).length - 1 - stored}`);
    if (stored > 0) {
      for (const [label, path] of [
        ['GET /jobs (every job)', '/jobs'],
        ['GET …/agentruns (unpaged)', '/apis/stromboli.dev/v1alpha1/agentruns'],
        ['GET …/agentruns?limit=500', '/apis/stromboli.dev/v1alpha1/agentruns?limit=500'],
      ] as const) {
        const { ms, bytes } = await timeGet(`${appUrl}${path}`, 5);
        console.log(`${label.padEnd(40)} median ${ms.toFixed(1).padStart(7)} ms   ${(bytes / 1024).toFixed(0)} KiB`);
      }
    }
  } finally {
    await app.close();
    await bare.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
