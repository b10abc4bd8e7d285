// bench/real-cli: what the controller adds on top of podman for the REAL Claude Code CLI. Over N
// runs of the real agent image's plain answer against the fake Anthropic API on 127.0.0.1
// (controller/test/fixtures/fake-anthropic.ts) it measures (a) manifest written to the watched
// directory → status Succeeded, through a real embedded server, and (b) a bare `podman run --rm`
// of the same image with the same CLI arguments, environment, secret and limits, in the same
// process, interleaved so machine noise hits both alike. Prints median and p95 of each and their
// ratio, as bench/overhead does.
// Usage: node bench/real-cli.ts [--runs 5] [--image localhost/stromboli/agent:latest]
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { ServeConfigSchema } from '../cmd/config.ts';
import { ownerOf, startEmbedded } from '../cmd/serve.ts';
import { createLogger } from '../controller/src/log.ts';
import { credentialSecretNames } from '../controller/src/runner/credentials.ts';
import { Labels } from '../controller/src/runner/names.ts';
import { startFakeAnthropic } from '../controller/test/fixtures/fake-anthropic.ts';
import { printReport, timeManifestRun } from './lib.ts';

const exec = promisify(execFile);

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, image: { type: 'string', default: 'localhost/stromboli/agent:latest' } },
});
const runs = Number(values.runs);
const image = values.image;
/** What the controller gives every container here (--container-env), and the bare runs too. */
const containerEnv = { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', CLAUDE_CODE_MAX_RETRIES: '0' };

/** The bare baseline: the argv the controller builds, minus its labels, name and detach (plus --rm). */
async function bare(i: number, baseUrl: string, secret: string): Promise<number> {
  const home = await mkdtemp(join(tmpdir(), 'bench-home-'));
  if (process.getuid?.() === 0) await chown(home, 1000, 1000);
  const env = Object.entries({ ...containerEnv, ANTHROPIC_BASE_URL: baseUrl, HOME: '/home/user' })
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  const started = performance.now();
  const { stdout } = await exec('podman', [
    'run', '--rm', '--pull', 'never', '--user', '1000:1000', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--pids-limit', '256',
    '--network', 'host', '--memory', '512m', '--cpus', '1', '--timeout', '1830',
    ...env, '--secret', `${secret},type=env,target=ANTHROPIC_API_KEY`, '-v', `${home}:/home/user`, image,
    '-p', '--session-id', randomUUID(), '--output-format', 'stream-json', '--verbose', '--', `bench bare ${i}`,
  ], { maxBuffer: 16 * 1024 * 1024 });
  const elapsed = performance.now() - started;
  await rm(home, { recursive: true, force: true });
  const last = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { type?: string; subtype?: string; is_error?: boolean };
  if (last.type !== 'result' || last.subtype !== 'success' || last.is_error === true) throw new Error(`bare run ${i} did not succeed: ${stdout.slice(-500)}`);
  return elapsed;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-real-cli-'));
  const runsDir = join(dir, 'runs');
  const stateDir = join(dir, 'state');
  await mkdir(runsDir, { recursive: true });
  // A random key: the fake refuses any other (401), so a run that succeeds got it through the secret.
  const apiKey = `sk-ant-bench-${randomBytes(24).toString('hex')}`;
  const fake = await startFakeAnthropic({ expectedApiKey: apiKey, defaultTurn: { kind: 'text', text: 'OK from the bench.' } });
  const log = createLogger({ level: 'error' });
  const server = await startEmbedded(
    ServeConfigSchema.parse({
      runsDir,
      stateDir,
      port: 0,
      image,
      maxConcurrentRuns: 1,
      pollMs: 1000,
      containerNetwork: 'host',
      anthropicBaseUrl: fake.url,
      containerEnv,
    }),
    log,
    { env: { ANTHROPIC_API_KEY: apiKey } },
  );
  const controllerMs: number[] = [];
  const bareMs: number[] = [];
  try {
    // One warm-up of each: page cache, podman's first-run work, the CLI's first start.
    await bare(-1, fake.url, credentialSecretNames(server.owner).apiKey);
    for (let i = -1; i < runs; i += 1) {
      const elapsed = await timeManifestRun(server, runsDir, `bench-${i + 1}`, `bench run ${i}`);
      if (i >= 0) {
        controllerMs.push(elapsed);
        bareMs.push(await bare(i, fake.url, credentialSecretNames(server.owner).apiKey));
      }
    }
  } finally {
    await server.close();
    await fake.close();
    // The server's containers are removed once recorded; remove any left by a failure, then the key.
    const owner = await ownerOf(stateDir).catch(() => undefined);
    if (owner !== undefined) {
      const { stdout } = await exec('podman', ['ps', '-aq', '--filter', `label=${Labels.owner}=${owner}`]);
      const ids = stdout.split('\n').filter((id) => id !== '');
      if (ids.length > 0) await exec('podman', ['rm', '--force', '--time', '0', ...ids]);
    }
    await exec('podman', ['secret', 'rm', credentialSecretNames(server.owner).apiKey]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
  printReport({ title: `bench/real-cli: ${runs} runs of ${image} (real Claude Code CLI, plain answer from the fake API), interleaved`, controllerMs, bareMs });
}

await main();
