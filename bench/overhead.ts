// bench/overhead: what the controller adds on top of podman. Over N runs of the fake image's
// plain answer it measures (a) manifest written to the watched directory → status Succeeded,
// through a real embedded server, and (b) a bare `podman run --rm` of the same image and CLI
// arguments, in the same process, interleaved so machine noise hits both alike. Prints median
// and p95 of each and their ratio. Usage: node bench/overhead.ts [--runs 20] [--image REF]
import { execFile } from 'node:child_process';
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { ServeConfigSchema } from '../controller/src/config.ts';
import { startEmbedded } from '../controller/src/embedded.ts';
import { createLogger } from '../controller/src/log.ts';

const exec = promisify(execFile);

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '20' }, image: { type: 'string', default: 'localhost/stromboli/fake-claude:latest' } },
});
const runs = Number(values.runs);
const image = values.image;

function quantile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] ?? NaN;
}

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
  const server = await startEmbedded(ServeConfigSchema.parse({ runsDir, stateDir: join(dir, 'state'), port: 0, image, maxConcurrentRuns: 1, pollMs: 1000 }), log);
  const controllerMs: number[] = [];
  const bareMs: number[] = [];
  try {
    // One warm-up of each: page cache, podman's first-run work.
    await bare(-1);
    for (let i = -1; i < runs; i += 1) {
      const name = `bench-${i + 1}`;
      const watch = new AbortController();
      const started = performance.now();
      const done = (async () => {
        for await (const event of server.store.watch(watch.signal)) {
          if (event.object.metadata.name === name && event.object.status?.phase !== undefined && ['Succeeded', 'Failed'].includes(event.object.status.phase)) {
            if (event.object.status.phase !== 'Succeeded') throw new Error(`${name} ended ${event.object.status.phase}: ${event.object.status.message}`);
            return performance.now() - started;
          }
        }
        throw new Error('watch ended');
      })();
      await writeFile(join(runsDir, `${name}.yaml`), `apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata:\n  name: ${name}\nspec:\n  prompt: bench run ${i}\n`);
      const elapsed = await done;
      watch.abort();
      if (i >= 0) {
        controllerMs.push(elapsed);
        bareMs.push(await bare(i));
      }
    }
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
  const row = (label: string, samples: number[]) =>
    `${label.padEnd(34)} median ${quantile(samples, 0.5).toFixed(0).padStart(6)} ms   p95 ${quantile(samples, 0.95).toFixed(0).padStart(6)} ms`;
  console.log(`bench/overhead: ${runs} runs of ${image} (plain answer), interleaved`);
  console.log(row('manifest written → Succeeded', controllerMs));
  console.log(row('bare podman run --rm (baseline)', bareMs));
  console.log(`ratio (median controller / median bare): ${(quantile(controllerMs, 0.5) / quantile(bareMs, 0.5)).toFixed(2)}`);
  console.log(`ratio (p95 controller / p95 bare):       ${(quantile(controllerMs, 0.95) / quantile(bareMs, 0.95)).toFixed(2)}`);
}

await main();
