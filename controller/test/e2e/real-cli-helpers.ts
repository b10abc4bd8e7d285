// Helpers of real-cli.int.test.ts: the controller (`stromboli serve` in-process) running the REAL
// Claude Code CLI in the real agent image (images/agent) against the scripted fake Anthropic API
// (controller/test/fixtures/fake-anthropic.ts) on 127.0.0.1. What the CLI needs to get there
// (agent-image.int.test.ts found it out): --network host, ANTHROPIC_BASE_URL,
// CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1, CLAUDE_CODE_MAX_RETRIES=0, the key as a podman secret.
import { randomBytes } from 'node:crypto';
import { chown, mkdir, mkdtemp, readFile, readdir, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServeConfigSchema } from '../../../cmd/config.ts';
import type { ServeConfigInput } from '../../../cmd/config.ts';
import { ownerOf, startEmbedded } from '../../../cmd/serve.ts';
import type { EmbeddedServer } from '../../../cmd/serve.ts';
import { createLogger } from '../../src/log.ts';
import { credentialSecretNames } from '../../src/runner/credentials.ts';
import { startFakeAnthropic } from '../fixtures/fake-anthropic.ts';
import type { FakeAnthropic, FakeMessage, RecordedRequest } from '../fixtures/fake-anthropic.ts';
import type { Cleanup } from '../helpers/cleanup.ts';
import { LogLines } from '../helpers/embedded-server.ts';
import type { Run } from '../helpers/embedded-server.ts';
import { removeContainersOfOwner, runCommand } from '../helpers/podman.ts';
import { CONTAINERS_CONF, REPO_ROOT } from '../helpers/repo.ts';

/** The real agent image, as images/agent/build.sh tags it. */
export const AGENT_IMAGE = 'localhost/stromboli/agent:latest';

/** The podman secret a server creates from ANTHROPIC_API_KEY, named after its owner (it owns it; the suite removes it at the end). */
export function apiKeySecretOf(owner: string): string {
  return credentialSecretNames(owner).apiKey;
}

/** The container user of the agent image. */
export const AGENT_UID = 1000;

/**
 * Builds the agent image or finds it up to date (cached: a few seconds). A missing podman or a
 * failed build throws: the podman project fails rather than skips (STYLE.md §5).
 */
export async function ensureAgentImage(): Promise<string> {
  const result = await runCommand('bash', [join(REPO_ROOT, 'images/agent/build.sh')], 1_500_000);
  if (result.exitCode !== 0) throw new Error(`images/agent/build.sh failed (exit ${result.exitCode}):\n${result.stderr.slice(-4000)}`);
  const ref = result.stdout.trim().split('\n').at(-1) ?? '';
  if (!ref.startsWith('localhost/stromboli/agent:')) throw new Error(`images/agent/build.sh printed no image reference: ${result.stdout}`);
  return ref;
}

export interface RealCliServer {
  server: EmbeddedServer;
  fake: FakeAnthropic;
  /** The random test key: given to the server only through its environment parameter. */
  apiKey: string;
  owner: string;
  logs: LogLines;
  /** Parent of runs/, state/ and volumes/. */
  root: string;
  runsDir: string;
  stateDir: string;
  /** The only host path volumes may come from (--allowed-volume). */
  volumesRoot: string;
  get(name: string, namespace?: string): Promise<Run>;
  /** A fresh directory under volumesRoot, owned by the container user, for a `/workspace` mount. */
  workspace(prefix: string): Promise<string>;
}

/**
 * The fake API (which refuses any other key with a 401) and an embedded server whose containers
 * reach it: host network, ANTHROPIC_BASE_URL, no retries, no non-essential traffic, the agent
 * image as default image, the key from `{ env }`. Logs at debug level into memory. The cleanup
 * closes the server, removes its containers, closes the fake, removes the key's secret and the
 * temp directories.
 */
export async function startRealCliServer(cleanup: Cleanup, overrides: Partial<ServeConfigInput> = {}): Promise<RealCliServer> {
  const root = await realpath(await mkdtemp(join(tmpdir(), 'stromboli-real-cli-')));
  cleanup.add(`remove ${root}`, () => rm(root, { recursive: true, force: true }));
  const runsDir = join(root, 'runs');
  const stateDir = join(root, 'state');
  const volumesRoot = join(root, 'volumes');
  await mkdir(runsDir);
  await mkdir(volumesRoot);

  const apiKey = `sk-ant-e2e-${randomBytes(24).toString('hex')}`;
  const fake = await startFakeAnthropic({ host: '127.0.0.1', port: 0, expectedApiKey: apiKey });
  cleanup.add('close the fake Anthropic API', () => fake.close());

  const logs = new LogLines();
  const config = ServeConfigSchema.parse({
    runsDir,
    stateDir,
    port: 0,
    image: AGENT_IMAGE,
    containersConf: CONTAINERS_CONF,
    containerNetwork: 'host',
    anthropicBaseUrl: fake.url,
    containerEnv: { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', CLAUDE_CODE_MAX_RETRIES: '0' },
    allowedVolumes: [volumesRoot],
    maxConcurrentRuns: 4,
    pollMs: 1_000,
    ...overrides,
  });
  const log = createLogger({ level: 'debug', destination: logs.stream() });
  const server = await startEmbedded(config, log, { env: { ANTHROPIC_API_KEY: apiKey } });
  const owner = await ownerOf(stateDir);
  const secret = apiKeySecretOf(owner);
  cleanup.add(`remove the podman secret ${secret}`, async () => {
    const removed = await runCommand('podman', ['secret', 'rm', secret]);
    const left = await runCommand('podman', ['secret', 'inspect', secret]);
    if (left.exitCode === 0) throw new Error(`podman secret ${secret} is still there: ${removed.stderr.trim()}`);
  });
  cleanup.add(`close the server of ${stateDir} and remove its containers`, async () => {
    await server.close();
    await removeContainersOfOwner(owner);
  });

  let workspaces = 0;
  return {
    server,
    fake,
    apiKey,
    owner,
    logs,
    root,
    runsDir,
    stateDir,
    volumesRoot,
    get: (name, namespace = 'default') => server.store.get({ namespace, name }),
    async workspace(prefix) {
      workspaces += 1;
      const dir = join(volumesRoot, `${prefix}-${workspaces}`);
      await mkdir(dir);
      await chown(dir, AGENT_UID, AGENT_UID);
      return dir;
    },
  };
}

/** The Messages-API calls the CLI made for one session (its x-claude-code-session-id header). */
export function requestsOfSession(fake: FakeAnthropic, sessionId: string): RecordedRequest[] {
  return fake.messageRequests().filter((r) => r.headers['x-claude-code-session-id'] === sessionId);
}

/** Content blocks of one type in a message (string content has none). */
export function blocksOfType(message: FakeMessage, type: string): Array<Record<string, unknown>> {
  if (!Array.isArray(message.content)) return [];
  return (message.content as unknown[]).filter(
    (b): b is Record<string, unknown> => typeof b === 'object' && b !== null && (b as { type?: unknown }).type === type,
  );
}

/** Texts of a message: string content, text blocks, and tool_result contents (as text). */
export function textsOf(message: FakeMessage): string[] {
  if (typeof message.content === 'string') return [message.content];
  const out: string[] = [];
  for (const block of blocksOfType(message, 'text')) if (typeof block['text'] === 'string') out.push(block['text']);
  for (const block of blocksOfType(message, 'tool_result')) {
    out.push(typeof block['content'] === 'string' ? block['content'] : JSON.stringify(block['content']));
  }
  return out;
}

/** Every tool_result block the request carried, in order. */
export function toolResultsOf(request: RecordedRequest | undefined): Array<Record<string, unknown>> {
  return (request?.messages ?? []).filter((m) => m.role === 'user').flatMap((m) => blocksOfType(m, 'tool_result'));
}

/** The text of a tool_result's content (a string or text blocks). */
export function toolResultText(block: Record<string, unknown> | undefined): string {
  const content = block?.['content'];
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((c) => (typeof c === 'object' && c !== null && typeof (c as { text?: unknown }).text === 'string' ? (c as { text: string }).text : '')).join('');
  }
  return '';
}

/** Names of the tools the request offered the model. */
export function toolNamesOf(request: RecordedRequest | undefined): string[] {
  return (request?.tools ?? []).map((t) => (typeof t === 'object' && t !== null ? String((t as { name?: unknown }).name) : ''));
}

/** The request's system prompt as one text (string or text blocks). */
export function systemTextOf(request: RecordedRequest | undefined): string {
  const system = request?.system;
  if (typeof system === 'string') return system;
  if (!Array.isArray(system)) return '';
  return system.map((b) => (typeof b === 'object' && b !== null && typeof (b as { text?: unknown }).text === 'string' ? (b as { text: string }).text : '')).join('\n');
}

/** Every regular file below `dir` (recursively), for leak scans. */
export async function filesBelow(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesBelow(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** Files below `dir` whose content contains `needle`. */
export async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  for (const file of await filesBelow(dir)) {
    if ((await stat(file)).size > 64 * 1024 * 1024) continue;
    if ((await readFile(file)).includes(needle)) hits.push(file);
  }
  return hits;
}

/**
 * Command lines of every process on this host (/proc/<pid>/cmdline, NUL-separated arguments) that
 * contain `needle`; this includes podman, conmon and the CLI inside the container.
 */
export async function processesWithArgContaining(needle: string): Promise<string[]> {
  const hits: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`).catch(() => undefined);
    if (cmdline?.includes(needle) === true) hits.push(`${pid}: ${cmdline.toString('utf8').split('\0').join(' ').slice(0, 200)}`);
  }
  return hits;
}

/** How many processes /proc lists at all (to show a /proc scan was not vacuous). */
export async function processCount(): Promise<number> {
  return (await readdir('/proc')).filter((p) => /^\d+$/.test(p)).length;
}
