// bench/overhead: what the controller adds on top of podman. Over N runs of the fake image's
// plain answer it measures (a, P1) manifest written to the watched directory → status Succeeded,
// through a real embedded server, (b, P1b) a synchronous `POST /run` to the same server until its
// answer, and (c) a bare `podman run --rm` of the same image and CLI arguments, in the same
// process, interleaved so machine noise hits all three alike. Prints median and p95 of each and
// their ratios to the bare run. Usage: node bench/overhead.ts [--runs 20] [--image REF]
import { execFile } from 'node:child_process';
import { chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { ServeConfigSchema } from '../cmd/config.ts';
import { startEmbedded } from '../cmd/serve.ts';
import { createLogger } from '../controller/src/log.ts';
import { printReport, timeManifestRun, timeSyncRun } from './lib.ts';

const exec = promisify(execFile);

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '20' }, image: { type: 'string', default: 'localhost/stromboli/fake-claude:latest' } },
});
const runs = Number(values.runs);
const image = values.image;

async function bare(i: number): Promise<number> {
  const home = await mkdtemp(join(tmpdir(), 'bench-home-'));
  if (process.getuid?.() === 0) await chown(home, 1000, 1000);
  const started = performance.now();
  await exec('podman', [
    'run', '--rm', '--pull', 'never', '--user', '1000:1000', '--pids-limit', '256', '--memory', '512m', '--cpus', '1', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
    '-e', 'HOME=/home/user', '-v', `${home}:/home/user`, image,
    '-p', '--session-id', crypto.randomUUID(), '--output-format', 'stream-json', '--verbose', '--', `bench bare ${i}`,
  ]);
  const elapsed = performance.now() - started;
  await rm(home, { recursive: true, force: true });
  return elapsed;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-overhead-'));
  const runsDir = join(dir, 'runs');
  const log = createLogger({ level: 'error' });
  await mkdir(runsDir, { recursive: true });
  // Memory: the process's RSS before the server exists, once it serves, and after every run
  // (a leak per run would show as growth proportional to the run count).
  globalThis.gc?.();
  const rssBefore = process.memoryUsage().rss;
  // A placeholder key, so POST /run finds Claude configured (the fake image never calls a model).
  const env = { ...process.env, ANTHROPIC_API_KEY: 'bench-placeholder' };
  const server = await startEmbedded(ServeConfigSchema.parse({ runsDir, stateDir: join(dir, 'state'), port: 0, image, maxConcurrentRuns: 1, pollMs: 1000 }), log, { env });
  const rssServing = process.memoryUsage().rss;
  const controllerMs: number[] = [];
  const syncMs: number[] = [];
  const bareMs: number[] = [];
  let rssAfter = rssServing;
  try {
    // One warm-up of each: page cache, podman's first-run work.
    await bare(-1);
    for (let i = -1; i < runs; i += 1) {
      const elapsed = await timeManifestRun(server, runsDir, `bench-${i + 1}`, `bench run ${i}`);
      const sync = await timeSyncRun(server.url, `bench sync ${i}`);
      if (i >= 0) {
        controllerMs.push(elapsed);
        syncMs.push(sync);
        bareMs.push(await bare(i));
      }
    }
    globalThis.gc?.();
  } finally {
    rssAfter = process.memoryUsage().rss;
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
  printReport({ title: `bench/overhead: ${runs} runs of ${image} (plain answer), interleaved`, controllerMs, bareMs, more: { 'POST /run (sync) → answer': syncMs } });
  const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
  const signed = (n: number) => `${n >= 0 ? '+' : '-'}${mib(Math.abs(n))}`;
  console.log(`memory (RSS): process ${mib(rssBefore)} MiB, serving ${mib(rssServing)} MiB (${signed(rssServing - rssBefore)}), after ${2 * (runs + 1)} runs ${mib(rssAfter)} MiB (${signed(rssAfter - rssServing)} against serving)`);
}

await main();
