// `stromboli`: serve (the embedded mode), the kubectl-like client commands, and images build.
// Every failure prints one clear line and exits non-zero.
//
// This file imports only what every command needs (argument parsing); each command loads its own
// code when it runs, so `stromboli get` does not load the server, podman code or zod schemas.
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { ServeConfig } from './config.ts';
import type { RootLogger } from '../controller/src/log.ts';
import { CliError } from './cli/cli-error.ts';
import { serveConfigInput, serveFlagOptions, serveFlagUsage } from './cli/serve-flags.ts';
import { compact } from '../contract/compact.ts';

const COMMANDS = `Usage: stromboli <command> [options]

Commands:
  serve                 run the embedded mode: watched directory + state directory + controller + API
  controller --store kube   run a node agent over a Kubernetes cluster's AgentRuns
                        [--kubeconfig FILE] [--namespace NS | --all-namespaces] [--node-name NAME]
                        [--log-address HOST:PORT --log-token-file FILE [--log-advertise-url URL]]
                        [--lease-namespace NS ($POD_NAMESPACE, else default)] [--lease-duration-seconds N (15)]
                        [--shared-sessions (sessions/ on storage every agent shares)]
                        (and the serve options --state-dir, --max-concurrent-runs, --image, ... of the agent)
  api --store kube      run the Stromboli API over a cluster's AgentRuns (logs from the node agents)
                        [--kubeconfig FILE] [--namespace NS] [--log-token-file FILE]
                        (and the serve API options --host, --port, --auth, --api-token-file, ...)
  get [NAME]            list AgentRuns, or show one (-o table|json|yaml; --chunk-size N)
  logs NAME [-f]        print a run's stream-json transcript (-f follows it)
  apply -f FILE         create or update the AgentRuns in FILE (stored in the state directory)
  delete NAME           delete an API-created run (stop and remove its container)
  cancel NAME           cancel a run (final)
  images build [--fake] build the agent image (or the fake test image) locally, without a registry
`;

const CLIENT_OPTIONS = `client options:
  --server URL (http://127.0.0.1:8585)  -n, --namespace NS (default)
  --chunk-size N (500)  runs per request of 'get' (0: the whole list in one request)
`;

/** The whole usage text; the serve defaults come from the config schema, loaded only here. */
async function usage(): Promise<string> {
  const { ServeConfigSchema } = await import('./config.ts');
  return `${COMMANDS}\nserve options:\n${serveFlagUsage(ServeConfigSchema.parse({}))}\n${CLIENT_OPTIONS}`;
}

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  ...serveFlagOptions(),
  server: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  output: { type: 'string', short: 'o' },
  'chunk-size': { type: 'string' },
  follow: { type: 'boolean', short: 'f' },
  filename: { type: 'string' },
  fake: { type: 'boolean' },
  store: { type: 'string' },
  kubeconfig: { type: 'string' },
  'all-namespaces': { type: 'boolean' },
  'node-name': { type: 'string' },
  'log-address': { type: 'string' },
  'log-advertise-url': { type: 'string' },
  'log-token-file': { type: 'string' },
  'lease-namespace': { type: 'string' },
  'lease-duration-seconds': { type: 'string' },
  'shared-sessions': { type: 'boolean' },
} satisfies ParseArgsConfig['options'];

/** Options that would put a secret on the command line, where every local user can read it. */
const SECRET_FLAGS: Record<string, string> = {
  '--jwt-secret': '--jwt-secret-file FILE or STROMBOLI_JWT_SECRET',
  '--api-token': '--api-token-file FILE or STROMBOLI_API_TOKENS',
  '--api-tokens': '--api-token-file FILE or STROMBOLI_API_TOKENS',
  '--log-token': '--log-token-file FILE (a mounted Secret)',
};

/** Refuses a secret given in argv with a pointer to the safe way; never echoes the value. */
function refuseSecretsInArgv(argv: readonly string[]): void {
  for (const arg of argv) {
    if (arg === '--') return;
    const flag = arg.split('=', 1)[0] ?? arg;
    const instead = SECRET_FLAGS[flag];
    if (instead !== undefined) throw new CliError(`${flag} is not accepted: secrets never go on the command line (visible to every local user); use ${instead}`, 2);
  }
}

/** The serve flags as a ServeConfig; a bad value is one CliError line. */
async function parseServeConfig(values: Record<string, unknown>): Promise<ServeConfig> {
  const [{ z }, { ServeConfigSchema }] = await Promise.all([import('zod'), import('./config.ts')]);
  const parsed = ServeConfigSchema.safeParse(serveConfigInput(values));
  if (!parsed.success) throw new CliError(`invalid option: ${z.prettifyError(parsed.error).replace(/\n/g, ' ')}`);
  return parsed.data;
}

/** The server's root logger (pino), loaded by the server commands only. */
async function serverLogger(): Promise<RootLogger> {
  const { createLogger } = await import('../controller/src/log.ts');
  return createLogger();
}

/** Closes a started process gracefully on SIGTERM/SIGINT or a fatal error (30 s at most); signals in `skip` are left to the caller. */
async function closeOnSignal(log: RootLogger, close: () => Promise<void>, skip: Array<'SIGUSR2'> = []): Promise<void> {
  const { default: closeWithGrace } = await import('close-with-grace');
  closeWithGrace({ delay: 30_000, skip }, async ({ err, signal }) => {
    if (err !== undefined) log.error({ err }, 'fatal error, shutting down');
    else log.info({ signal }, 'shutting down');
    await close();
  });
}

async function serve(values: Record<string, unknown>): Promise<void> {
  const config = await parseServeConfig(values);
  const log = await serverLogger();
  const { startEmbedded } = await import('./serve.ts');
  const server = await startEmbedded(config, log);
  await closeOnSignal(log, () => server.close());
}

/** --lease-duration-seconds as a whole number of seconds (at least 1); a CliError otherwise. */
function leaseSeconds(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new CliError(`invalid option: --lease-duration-seconds "${text}" must be a whole number of seconds, at least 1`, 2);
  return Number(text);
}

/** `stromboli controller --store kube`: a node agent over the cluster's AgentRuns. */
async function controller(values: Record<string, unknown>): Promise<void> {
  if (values.store !== 'kube') throw new CliError("stromboli controller needs --store kube (the embedded mode with a file store is 'stromboli serve')", 2);
  if (values.namespace !== undefined && values['all-namespaces'] === true) throw new CliError('--namespace and --all-namespaces exclude each other', 2);
  const config = await parseServeConfig(values);
  const log = await serverLogger();
  const { startKubeNodeAgent } = await import('./kube.ts');
  const agent = await startKubeNodeAgent(
    config,
    compact({
      kubeconfig: values.kubeconfig as string | undefined,
      namespace: values.namespace as string | undefined,
      nodeName: values['node-name'] as string | undefined,
      logAddress: values['log-address'] as string | undefined,
      logAdvertiseUrl: values['log-advertise-url'] as string | undefined,
      logTokenFile: values['log-token-file'] as string | undefined,
      leaseNamespace: values['lease-namespace'] as string | undefined,
      leaseDurationSeconds: leaseSeconds(values['lease-duration-seconds']),
      sharedSessions: values['shared-sessions'] as boolean | undefined,
    }),
    log,
  );
  await closeOnSignal(log, () => agent.close(), agent.agent.drain === undefined ? [] : ['SIGUSR2']);
  // SIGUSR2 drains (docs/multi-node.md): no more claims, the running runs finish, then a clean exit.
  const drain = agent.agent.drain;
  if (drain !== undefined) {
    process.once('SIGUSR2', () => {
      void drain()
        .then(() => agent.close())
        .then(() => process.exit(0), (err: unknown) => {
          log.error({ err }, 'drain failed');
          process.exit(1);
        });
    });
  }
}

/** `stromboli api --store kube`: the Stromboli facade over the cluster's AgentRuns of one namespace. */
async function api(values: Record<string, unknown>): Promise<void> {
  if (values.store !== 'kube') throw new CliError("stromboli api needs --store kube (the embedded mode serves the API itself: 'stromboli serve')", 2);
  if (values['all-namespaces'] === true) throw new CliError('stromboli api serves one namespace: pass --namespace NS (default: default)', 2);
  const config = await parseServeConfig(values);
  const log = await serverLogger();
  const { startKubeApi } = await import('./kube-api.ts');
  const server = await startKubeApi(
    config,
    compact({ kubeconfig: values.kubeconfig as string | undefined, namespace: values.namespace as string | undefined, logTokenFile: values['log-token-file'] as string | undefined }),
    log,
  );
  await closeOnSignal(log, () => server.close());
}

export async function main(argv: readonly string[], out: (text: string) => void = (t) => process.stdout.write(t)): Promise<void> {
  refuseSecretsInArgv(argv);
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, allowNegative: true, strict: true });
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${await usage()}`, 2);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help === true || command === undefined || command === 'help') {
    out(await usage());
    return;
  }
  const client = {
    server: values.server ?? process.env.STROMBOLI_SERVER ?? 'http://127.0.0.1:8585',
    namespace: values.namespace ?? 'default',
    ...compact({ token: process.env.STROMBOLI_TOKEN }),
    out,
  };
  const needName = (): string => {
    const name = rest[0];
    if (name === undefined) throw new CliError(`stromboli ${command} needs a run NAME`, 2);
    return name;
  };
  switch (command) {
    case 'serve':
      return serve(values);
    case 'controller':
      return controller(values);
    case 'api':
      return api(values);
    case 'get': {
      const output = values.output ?? 'table';
      if (output !== 'table' && output !== 'json' && output !== 'yaml') throw new CliError(`-o must be table, json or yaml, got '${output}'`, 2);
      const chunk = values['chunk-size'];
      if (chunk !== undefined && !/^\d+$/.test(chunk)) throw new CliError(`--chunk-size must be a whole number (0: no chunks), got '${chunk}'`, 2);
      const { get } = await import('./cli/client.ts');
      return get(client, rest[0], { output, ...compact({ chunkSize: chunk === undefined ? undefined : Number(chunk) }) });
    }
    case 'logs':
      return (await import('./cli/client.ts')).logs(client, needName(), values.follow === true);
    case 'apply': {
      // -f is --follow for logs; for apply it names the file, which parseArgs then sees as a positional.
      const file = values.filename ?? (values.follow === true ? rest[0] : undefined);
      if (file === undefined) throw new CliError('stromboli apply needs -f FILE', 2);
      return (await import('./cli/client.ts')).apply(client, file);
    }
    case 'delete':
      return (await import('./cli/client.ts')).remove(client, needName());
    case 'cancel':
      return (await import('./cli/client.ts')).cancel(client, needName());
    case 'images':
      if (rest[0] !== 'build') throw new CliError("usage: stromboli images build [--fake]", 2);
      return (await import('./cli/images.ts')).buildImage({ fake: values.fake === true, out });
    default:
      throw new CliError(`unknown command '${command}'\n${await usage()}`, 2);
  }
}

/** The process entry: runs main and turns errors into one line and an exit code. */
export async function run(): Promise<void> {
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(`stromboli: unhandled rejection: ${reason instanceof Error ? reason.stack ?? reason.message : String(reason)}\n`);
    process.exit(1);
  });
  try {
    await main(process.argv.slice(2));
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`${err.message.trimEnd()}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`stromboli: ${message}\n`);
    process.exitCode = 1;
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await run();
}
