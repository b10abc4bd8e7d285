// `stromboli serve` in-process for the e2e suites: startEmbedded over a test's own temp dirs on
// port 0, with its log kept in memory (printed when the test fails) and a cleanup that closes it
// and removes every container it created (by its owner label).
import { Writable } from 'node:stream';
import { onTestFailed } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { ServeConfigSchema } from '../../../cmd/config.ts';
import type { ServeConfigInput } from '../../../cmd/config.ts';
import { ownerOf, startEmbedded } from '../../../cmd/serve.ts';
import type { EmbeddedServer } from '../../../cmd/serve.ts';
import { createLogger } from '../../src/log.ts';
import type { Resource } from '../../../contract/store/store.ts';
import type { Cleanup } from './cleanup.ts';
import { removeContainersOfOwner } from './podman.ts';
import { CONTAINERS_CONF, FAKE_IMAGE } from './repo.ts';
import type { TempDirs } from './temp-dirs.ts';

export type Run = Resource<AgentRunStatus>;

/** Structured log lines kept in memory (pino JSON, one object per line). */
export class LogLines {
  readonly lines: Array<Record<string, unknown>> = [];

  /** A writable pino destination that parses and keeps every line. */
  stream(): Writable {
    let partial = '';
    return new Writable({
      write: (chunk: Buffer | string, _encoding, callback) => {
        partial += chunk.toString();
        let newline = partial.indexOf('\n');
        while (newline >= 0) {
          this.push(partial.slice(0, newline));
          partial = partial.slice(newline + 1);
          newline = partial.indexOf('\n');
        }
        callback();
      },
    });
  }

  push(line: string): void {
    if (line.trim() === '') return;
    try {
      this.lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      this.lines.push({ msg: line });
    }
  }

  /** Lines with this `msg`. */
  withMessage(msg: string): Array<Record<string, unknown>> {
    return this.lines.filter((l) => l['msg'] === msg);
  }

  /** The last lines as text, for a failure report. */
  tail(count = 80): string {
    return this.lines
      .slice(-count)
      .map((l) => JSON.stringify(l))
      .join('\n');
  }
}

export interface TestServer {
  server: EmbeddedServer;
  url: string;
  /** The owner label value of this server's containers. */
  owner: string;
  logs: LogLines;
  /** The run, read from the store (throws NotFoundError when it does not exist). */
  get(name: string, namespace?: string): Promise<Run>;
  /** Closes the server now (the cleanup then only removes containers). Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the embedded server over `dirs` on 127.0.0.1:0 with the fake image as default image and
 * the project's containers.conf. `overrides` are ServeConfig fields (maxConcurrentRuns,
 * allowedVolumes, pollMs…). Registers the cleanup: close, then remove the owner's containers.
 */
export async function startTestServer(cleanup: Cleanup, dirs: TempDirs, overrides: Partial<ServeConfigInput> = {}): Promise<TestServer> {
  const logs = new LogLines();
  const config = ServeConfigSchema.parse({
    runsDir: dirs.runsDir,
    stateDir: dirs.stateDir,
    port: 0,
    image: FAKE_IMAGE,
    containersConf: CONTAINERS_CONF,
    ...overrides,
  });
  const log = createLogger({ level: 'info', destination: logs.stream() });
  // No credentials, auth secrets or webhook settings from the developer's environment: runs are
  // deterministic (the fake picks its model from ANTHROPIC_API_KEY) and no shared podman secret is touched.
  const server = await startEmbedded(config, log, { env: {} });
  const owner = await ownerOf(dirs.stateDir);
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => (closed ??= server.close());
  cleanup.add(`close the server of ${dirs.stateDir} and remove its containers`, async () => {
    await close();
    await removeContainersOfOwner(owner);
  });
  onTestFailed(() => {
    console.error(`--- last log lines of the embedded server (${dirs.stateDir}) ---\n${logs.tail()}`);
  });
  return {
    server,
    url: server.url,
    owner,
    logs,
    get: (name, namespace = 'default') => server.store.get({ namespace, name }),
    close,
  };
}
