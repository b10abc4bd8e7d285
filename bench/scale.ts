// bench/scale: P3 of issue 9, a server started over many runs. It writes N suspended AgentRun
// manifests into a temp runs dir, starts the real `stromboli serve` as a child process and
// measures: spawn → /health answers, spawn → every run listed with a phase (the native list the
// CLI reads), the server's RSS, its CPU while idle, `stromboli get` latency, and how long one new
// (not suspended) run of the fake image takes to succeed, next to the same on an empty server
// started in the same bench run. Prints figures and ratios; asserts nothing.
// Usage: node bench/scale.ts [--runs 10000] [--new-runs 3] [--idle-seconds 20] [--timeout-seconds 600]
//                            [--run-timeout-seconds 120] [--image REF]
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { quantile } from './lib.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10000' },
    'new-runs': { type: 'string', default: '3' },
    'idle-seconds': { type: 'string', default: '20' },
    'timeout-seconds': { type: 'string', default: '600' },
    'run-timeout-seconds': { type: 'string', default: '120' },
    image: { type: 'string', default: 'localhost/stromboli/fake-claude:latest' },
  },
});
const runs = Number(values.runs);
const newRuns = Number(values['new-runs']);
const idleSeconds = Number(values['idle-seconds']);
const timeoutMs = Number(values['timeout-seconds']) * 1000;
const runTimeoutMs = Number(values['run-timeout-seconds']) * 1000;
const image = values.image;
const LIST_PATH = '/apis/stromboli.dev/v1alpha1/agentruns';
const CLOCK_TICKS = 100; // USER_HZ of /proc/<pid>/stat on Linux

interface Server {
  url: string;
  child: ChildProcess;
  runsDir: string;
  spawnedAt: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
  const address = probe.address();
  await new Promise<void>((done) => probe.close(() => done()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

async function startServer(dir: string): Promise<Server> {
  const runsDir = join(dir, 'runs');
  const port = await freePort();
  const args = ['bin/stromboli.js', 'serve', '--runs-dir', runsDir, '--state-dir', join(dir, 'state'), '--port', String(port), '--image', image, '--max-concurrent-runs', '4'];
  if (process.env.CONTAINERS_CONF !== undefined) args.push('--containers-conf', process.env.CONTAINERS_CONF);
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [...(process.env.SCALE_NODE_ARGS ?? '').split(' ').filter(Boolean), ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, STROMBOLI_LOG_LEVEL: 'warn' },
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    runsDir,
    spawnedAt,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Milliseconds from spawn until `probe` first resolves true (polled every `everyMs`); NaN after the timeout. */
async function timeUntil(server: Server, everyMs: number, probe: () => Promise<boolean>): Promise<number> {
  while (performance.now() - server.spawnedAt < timeoutMs) {
    if (server.child.exitCode !== null) throw new Error(`the server exited (${server.child.exitCode})`);
    if (await probe().catch(() => false)) return performance.now() - server.spawnedAt;
    await sleep(everyMs);
  }
  return NaN;
}

interface ListedRun {
  metadata: { name: string };
  status?: { phase?: string };
}

async function listRuns(url: string): Promise<ListedRun[]> {
  const response = await fetch(`${url}${LIST_PATH}`);
  if (!response.ok) throw new Error(`list answered ${response.status}`);
  return ((await response.json()) as { items: ListedRun[] }).items;
}

/** RSS (bytes) and CPU time (ms) of a process, from /proc. */
async function processStats(pid: number): Promise<{ rss: number; cpuMs: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  return { rss: rssKb * 1024, cpuMs: (ticks * 1000) / CLOCK_TICKS };
}

function manifest(name: string, suspend: boolean, prompt: string): string {
  return `apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata:\n  name: ${name}\nspec:\n  prompt: ${JSON.stringify(prompt)}\n${suspend ? '  suspend: true\n' : ''}`;
}

/** Writes a new run's manifest and resolves with the ms until the API lists it Succeeded. */
async function timeNewRun(server: Server, name: string): Promise<number> {
  const started = performance.now();
  await writeFile(join(server.runsDir, `${name}.yaml`), manifest(name, false, `scale ${name}`));
  for (;;) {
    const response = await fetch(`${server.url}/apis/stromboli.dev/v1alpha1/namespaces/default/agentruns/${name}`);
    if (response.ok) {
      const phase = ((await response.json()) as ListedRun).status?.phase;
      if (phase === 'Succeeded') return performance.now() - started;
      if (phase === 'Failed' || phase === 'Cancelled') throw new Error(`${name} ended ${phase}`);
    }
    if (performance.now() - started > runTimeoutMs) return NaN;
    await sleep(20);
  }
}

async function timeCliGet(url: string): Promise<number> {
  const started = performance.now();
  await new Promise<void>((done, fail) => {
    const child = spawn(process.execPath, ['bin/stromboli.js', 'get', '--server', url], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('exit', (code) => (code === 0 ? done() : fail(new Error(`stromboli get exited ${code}`))));
  });
  return performance.now() - started;
}

async function timeNewRuns(server: Server, prefix: string): Promise<number[]> {
  await timeNewRun(server, `${prefix}-warmup`);
  const samples: number[] = [];
  for (let i = 0; i < newRuns; i += 1) samples.push(await timeNewRun(server, `${prefix}-${i}`));
  return samples;
}

/** Median of the runs that finished (a timed-out run counts as slower than all: Infinity). */
function finiteMedian(samples: readonly number[]): number {
  return quantile(samples.map((n) => (Number.isNaN(n) ? Infinity : n)), 0.5);
}

function samplesText(samples: readonly number[]): string {
  return `median ${ms(finiteMedian(samples))}   (${samples.map((n) => (Number.isNaN(n) ? 'timed out' : n.toFixed(0))).join(', ')})`;
}

const ms = (n: number) => `${n.toFixed(0).padStart(7)} ms`;
const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'bench-scale-'));
  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  try {
    // Baseline: the same new runs on an empty server.
    const emptyDir = join(root, 'empty');
    await mkdir(join(emptyDir, 'runs'), { recursive: true });
    const empty = await startServer(emptyDir);
    let emptyReadyMs: number;
    let emptyRunMs: number[];
    try {
      emptyReadyMs = await timeUntil(empty, 20, async () => (await fetch(`${empty.url}/health`)).status < 500);
      emptyRunMs = await timeNewRuns(empty, 'empty-new');
    } finally {
      await empty.stop();
    }

    const fullDir = join(root, 'full');
    const runsDir = join(fullDir, 'runs');
    await mkdir(runsDir, { recursive: true });
    const writing = performance.now();
    for (let i = 0; i < runs; i += 1) {
      const name = `scale-${String(i).padStart(5, '0')}`;
      await writeFile(join(runsDir, `${name}.yaml`), manifest(name, true, `suspended run ${i}`));
    }
    const writeMs = performance.now() - writing;
    console.log(`bench/scale: ${runs} suspended runs (one manifest each), server as a child process, load average ${load}`);
    console.log(`manifests written in                     ${ms(writeMs)}`);
    console.log(`empty server: spawn → /health            ${ms(emptyReadyMs)}`);
    console.log(`new run → Succeeded, empty server        ${samplesText(emptyRunMs)}`);
    const full = await startServer(fullDir);
    try {
      const healthMs = await timeUntil(full, 20, async () => (await fetch(`${full.url}/health`)).status < 500);
      console.log(`spawn → /health                          ${ms(healthMs)}`);
      let listed = 0;
      let phased = 0;
      const everyPhaseMs = await timeUntil(full, 100, async () => {
        const items = await listRuns(full.url);
        listed = items.length;
        phased = items.filter((r) => r.status?.phase !== undefined).length;
        return listed >= runs && phased >= runs;
      });
      const serving = await processStats(full.child.pid ?? 0);
      console.log(`spawn → every run listed with a phase    ${ms(everyPhaseMs)}${Number.isNaN(everyPhaseMs) ? `   (timed out: ${listed} listed, ${phased} with a phase)` : ''}`);
      console.log(`RSS then                                 ${mib(serving.rss).padStart(10)}`);
      await sleep(1000); // let the last writes and the GC settle before the idle window
      const idleFrom = await processStats(full.child.pid ?? 0);
      await sleep(idleSeconds * 1000);
      const idleTo = await processStats(full.child.pid ?? 0);
      const idleCpu = (idleTo.cpuMs - idleFrom.cpuMs) / (idleSeconds * 1000);
      console.log(`CPU while idle (${idleSeconds} s)                   ${(idleCpu * 100).toFixed(1).padStart(7)} % of a core${Number.isNaN(everyPhaseMs) ? ' (not idle: runs were still being reconciled)' : ''}`);
      const listMs: number[] = [];
      for (let i = 0; i < 5; i += 1) {
        const started = performance.now();
        await listRuns(full.url);
        listMs.push(performance.now() - started);
      }
      console.log(`GET ${LIST_PATH} median ${ms(quantile(listMs, 0.5))}   max ${ms(Math.max(...listMs))}`);
      const getMs: number[] = [];
      for (let i = 0; i < 3; i += 1) getMs.push(await timeCliGet(full.url));
      console.log(`stromboli get (a new node process)       median ${ms(quantile(getMs, 0.5))}   max ${ms(Math.max(...getMs))}`);
      const fullRunMs = await timeNewRuns(full, 'full-new');
      const after = await processStats(full.child.pid ?? 0);
      console.log(`new run → Succeeded, with ${runs} runs   ${samplesText(fullRunMs)}`);
      console.log(`ratio (with runs / empty), medians:      ${(finiteMedian(fullRunMs) / finiteMedian(emptyRunMs)).toFixed(2)}`);
      console.log(`RSS after the new runs                   ${mib(after.rss).padStart(10)}`);
      console.log(`load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    } finally {
      await full.stop();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
