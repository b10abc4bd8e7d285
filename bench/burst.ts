// bench/burst (issue 9, P2): N runs written to the watched directory at once, served with
// --max-concurrent-runs 8, against the same N bare `podman run --rm` 8 at a time (`xargs -P8`
// semantics: a pool of 8 that starts the next run as soon as one ends). The baseline is measured
// first, in the same process, then the controller; with --rounds > 1 the two alternate. Prints
// both wall times, their medians and the throughput ratio (bare wall / controller wall). Never
// asserts. Usage: node bench/burst.ts [--runs 40] [--parallel 8] [--rounds 1] [--image REF]
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { ServeConfigSchema } from '../cmd/config.ts';
import { startEmbedded } from '../cmd/serve.ts';
import { createLogger } from '../controller/src/log.ts';
import { allSucceeded, quantile } from './lib.ts';

const exec = promisify(execFile);

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '40' },
    parallel: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '1' },
    image: { type: 'string', default: 'localhost/stromboli/fake-claude:latest' },
  },
});
const runs = Number(values.runs);
const parallel = Number(values.parallel);
const rounds = Number(values.rounds);
const image = values.image;

const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

async function bareRun(i: number): Promise<void> {
  const home = await mkdtemp(join(tmpdir(), 'bench-burst-home-'));
  if (process.getuid?.() === 0) await chown(home, 1000, 1000);
  try {
    await exec('podman', [
      'run', '--rm', '--pull', 'never', '--user', '1000:1000', '--pids-limit', '256', '--memory', '512m', '--cpus', '1', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
      '-e', 'HOME=/home/user', '-v', `${home}:/home/user`, image,
      '-p', '--session-id', crypto.randomUUID(), '--output-format', 'stream-json', '--verbose', '--', `burst bare ${i}`,
    ]);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

/** N bare runs through a pool of `parallel` workers; resolves with the wall time. */
async function bareBurst(): Promise<number> {
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < runs) await bareRun(next++);
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return performance.now() - started;
}

/** N manifests written at once into a fresh embedded server; resolves with the wall time until all succeeded. */
async function controllerBurst(round: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-burst-'));
  const runsDir = join(dir, 'runs');
  await mkdir(runsDir, { recursive: true });
  const log = createLogger({ level: 'error' });
  const server = await startEmbedded(ServeConfigSchema.parse({ runsDir, stateDir: join(dir, 'state'), port: 0, image, maxConcurrentRuns: parallel, pollMs: 1000 }), log);
  const watch = new AbortController();
  try {
    const names = new Set(Array.from({ length: runs }, (_, i) => `burst-${round}-${i}`));
    const started = performance.now();
    const done = allSucceeded(server.store, names, started, watch.signal);
    await Promise.all(
      [...names].map((name) =>
        writeFile(join(runsDir, `${name}.yaml`), `apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata:\n  name: ${name}\nspec:\n  prompt: ${JSON.stringify(`burst ${name}`)}\n`),
      ),
    );
    return await done;
  } finally {
    watch.abort();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const bareMs: number[] = [];
  const controllerMs: number[] = [];
  const loads = [loadavg()];
  await bareRun(-1); // warm-up: page cache, podman's first-run work
  for (let round = 0; round < rounds; round += 1) {
    bareMs.push(await bareBurst());
    controllerMs.push(await controllerBurst(round));
    console.log(`round ${round + 1}: bare ${bareMs.at(-1)?.toFixed(0)} ms, controller ${controllerMs.at(-1)?.toFixed(0)} ms (load ${loadavg()})`);
  }
  loads.push(loadavg());
  const bare = quantile(bareMs, 0.5);
  const controller = quantile(controllerMs, 0.5);
  console.log(`bench/burst: ${runs} runs of ${image}, ${parallel} at a time, ${rounds} round(s); load ${loads.join(' -> ')}`);
  console.log(`bare podman run --rm, pool of ${parallel} (baseline)  median wall ${bare.toFixed(0)} ms  (${((runs / bare) * 1000).toFixed(2)} runs/s)`);
  console.log(`controller, --max-concurrent-runs ${parallel}          median wall ${controller.toFixed(0)} ms  (${((runs / controller) * 1000).toFixed(2)} runs/s)`);
  console.log(`throughput ratio (bare wall / controller wall): ${(bare / controller).toFixed(2)}`);
}

await main();
