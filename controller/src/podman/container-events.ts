// One libpod event stream per node agent instead of one `podman logs -f` process per run: the
// `died` events of our own containers (owner label), each with its exit code. The stream is
// supervised: when it ends (the service died or restarted) it is opened again with jittered
// backoff, and `onReconnect` says events may have been missed meanwhile (the reconciler's poll
// and resync would catch them anyway; the callback only makes it sooner).
import { createBackoff } from '../../../contract/backoff.ts';
import type { BackoffOptions } from '../../../contract/backoff.ts';
import { superviseWatch } from '../../../contract/store/supervised-watch.ts';
import type { Logger } from '../reconcile/types.ts';
import type { ApiTransport } from './api-transport.ts';

/** A container of ours whose process ended. */
export interface DiedEvent {
  name: string;
  /** The container's labels (podman puts them in the event's attributes). */
  labels: Record<string, string>;
  /** podman's containerExitCode; undefined when absent or not a number. */
  exitCode: number | undefined;
}

/** Options of ContainerEvents. */
export interface ContainerEventsOptions {
  transport: ApiTransport;
  /** Only containers with all these labels (e.g. our owner label). Required, at least one. */
  labels: Readonly<Record<string, string>>;
  onDied: (event: DiedEvent) => void;
  /** After a reconnect (not the first connect). Default: nothing. */
  onReconnect?: () => void;
  /** Reconnect delays; default 200 ms doubling to 5 s, equal jitter. */
  backoff?: BackoffOptions;
  log?: Logger;
}

/** Parses one line of the events stream; undefined for anything that is not a died event of a container. */
export function parseDiedEvent(line: string): DiedEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const event = value as { Type?: unknown; Action?: unknown; Actor?: { Attributes?: unknown } };
  // podman sends lines without Actor (errors, keep-alives): skipped.
  const attributes = event.Actor?.Attributes;
  if (event.Type !== 'container' || event.Action !== 'died' || typeof attributes !== 'object' || attributes === null) return undefined;
  const labels: Record<string, string> = {};
  for (const [key, v] of Object.entries(attributes)) if (typeof v === 'string') labels[key] = v;
  const name = labels['name'];
  if (name === undefined || name === '') return undefined;
  const code = Number(labels['containerExitCode']);
  return { name, labels, exitCode: labels['containerExitCode'] !== undefined && Number.isInteger(code) ? code : undefined };
}

/** The supervised died-event subscription. */
export class ContainerEvents {
  readonly #o: ContainerEventsOptions;
  readonly #abort = new AbortController();
  readonly #backoff: (attempt: number) => number;
  #loop: Promise<void> | undefined;
  #connected = false;

  constructor(options: ContainerEventsOptions) {
    if (Object.keys(options.labels).length === 0) throw new RangeError('ContainerEvents needs at least one label filter');
    this.#o = options;
    this.#backoff = createBackoff({ baseMs: 200, capMs: 5000, ...options.backoff });
  }

  /** Whether the stream is open now. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Starts the subscription; resolves once the first connection is open, or the first attempt failed. */
  start(): Promise<void> {
    if (this.#loop !== undefined) throw new Error('ContainerEvents already started');
    return new Promise((resolveFirst) => {
      this.#loop = this.#run(resolveFirst);
    });
  }

  /** Ends the subscription. */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  // The project's one retrying watch: each session opens the stream and yields its died events;
  // an end or a failure is a restart after jittered backoff.
  async #run(firstAttemptDone: () => void): Promise<void> {
    const filters = encodeURIComponent(
      JSON.stringify({ type: ['container'], event: ['died'], label: Object.entries(this.#o.labels).map(([k, v]) => `${k}=${v}`) }),
    );
    let connections = 0;
    const session = async function* (this: ContainerEvents, signal: AbortSignal): AsyncGenerator<DiedEvent> {
      try {
        const stream = await this.#o.transport.stream(`/events?stream=true&filters=${filters}`, signal);
        if (stream.status !== 200) throw new Error(`events answered ${stream.status}`);
        this.#connected = true;
        connections += 1;
        firstAttemptDone();
        if (connections > 1) this.#o.onReconnect?.();
        for await (const line of stream.lines) {
          const died = parseDiedEvent(line);
          if (died !== undefined) yield died;
        }
      } finally {
        this.#connected = false;
        firstAttemptDone();
      }
    }.bind(this);
    await superviseWatch<DiedEvent>({
      source: { watch: session },
      onEvent: (died) => this.#o.onDied(died),
      signal: this.#abort.signal,
      log: this.#o.log ?? { warn: () => undefined },
      backoff: this.#backoff,
    });
  }
}

