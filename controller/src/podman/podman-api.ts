// The node agent's REST path to podman in one piece: its own supervised service on a socket
// under the state directory, the keep-alive client over it, and the one died-event stream of
// the agent's containers. startPodmanApi says `ok: false` (with why) when the service cannot
// start, and the agent then keeps to the CLI.
import type { Executor } from '../exec/executor.ts';
import type { Logger } from '../reconcile/types.ts';
import { PodmanApiClient } from './api-client.ts';
import { UnixSocketTransport } from './api-transport.ts';
import { tracedTransport } from '../telemetry/traced.ts';
import type { Tracing } from '../../../contract/tracing.ts';
import type { DiedEvent } from './container-events.ts';
import { ContainerEvents } from './container-events.ts';
import { PodmanService } from './podman-service.ts';

/** The owner label key (runner/names.ts Labels.owner; podman/ imports nothing of runner/). */
const OWNER_LABEL = 'stromboli.dev/owner';

/** Options of startPodmanApi. */
export interface PodmanApiOptions {
  /** Starts the service process. */
  executor: Executor;
  /** Where the service listens, e.g. <stateDir>/podman.sock. */
  socketPath: string;
  /** Our owner label value: the event stream carries only our containers. */
  owner: string;
  /** The service's extra environment (CONTAINERS_CONF); default none. */
  env?: Record<string, string>;
  /** The podman binary; default 'podman'. */
  podmanPath?: string;
  /** One of our containers ended. */
  onDied: (event: DiedEvent) => void;
  /** The event stream came back after a gap (a service restart): events may be lost. */
  onResumed: () => void;
  log?: Logger;
  /** A span per REST call. Default: none. */
  tracing?: Tracing;
}

/** A running REST path. */
export interface PodmanApi {
  client: PodmanApiClient;
  service: PodmanService;
  events: ContainerEvents;
  /** Ends the event stream and stops the service; containers keep running. */
  close(): Promise<void>;
}

/** Starts the service, then the event stream; `ok: false` when the service cannot start. */
export async function startPodmanApi(options: PodmanApiOptions): Promise<{ ok: true; api: PodmanApi } | { ok: false; reason: string }> {
  const transport = new UnixSocketTransport({ socketPath: options.socketPath });
  const client = new PodmanApiClient({ transport: options.tracing === undefined ? transport : tracedTransport(transport, options.tracing) });
  const service = new PodmanService({
    executor: options.executor,
    socketPath: options.socketPath,
    ping: () => client.ping(),
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.podmanPath === undefined ? {} : { podmanPath: options.podmanPath }),
    ...(options.log === undefined ? {} : { log: options.log }),
  });
  const started = await service.start();
  if (!started.ok) {
    transport.close();
    return started;
  }
  const events = new ContainerEvents({
    transport,
    labels: { [OWNER_LABEL]: options.owner },
    onDied: options.onDied,
    onReconnect: options.onResumed,
    ...(options.log === undefined ? {} : { log: options.log }),
  });
  await events.start();
  return {
    ok: true,
    api: {
      client,
      service,
      events,
      async close() {
        await events.close();
        await service.close();
        transport.close();
      },
    },
  };
}
