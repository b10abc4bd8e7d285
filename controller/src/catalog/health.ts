// Health of what runs need: podman, and Claude credentials. Our credentials are podman secrets
// given to every agent container (never a file read by the server), or an API endpoint in the
// server's environment (a gateway that authenticates for the containers).
// /health is public and not rate-limited, so checks are coalesced and cached briefly: a flood of
// probes cannot fork a podman process each.
import { boundedMessage } from '../../../contract/errors.ts';
import type { HealthComponent } from '../../../contract/catalog.ts';
import type { HealthPort } from '../../../contract/ports.ts';
import type { PodmanClient } from '../podman/client.ts';

export type { HealthComponent };

/** Component names, in the order /health lists them. */
export const HealthComponents = {
  podman: 'podman',
  credentials: 'claude-credentials-secret',
} as const;

export interface HealthCheckerOptions {
  podman: Pick<PodmanClient, 'listSecrets'>;
  /** Names of the podman secrets every agent container gets as credentials. Default none. */
  credentialSecrets?: readonly string[];
  /** Agent containers get an API endpoint (ANTHROPIC_BASE_URL) that authenticates for them. Default false. */
  apiEndpointConfigured?: boolean;
  /** A check slower than this reports podman as failing. Default 5000 ms (Stromboli's). */
  timeoutMs?: number;
  /** How long one result is reused. Default 2000 ms. */
  cacheMs?: number;
  /** Injectable clock for tests. Default Date.now. */
  now?: () => number;
}

/** Checks podman and the credentials; single-flight with a short cache. */
export class HealthChecker implements HealthPort {
  readonly #o: Required<Omit<HealthCheckerOptions, 'podman'>> & Pick<HealthCheckerOptions, 'podman'>;
  #cached: { at: number; components: Promise<HealthComponent[]> } | undefined;

  constructor(options: HealthCheckerOptions) {
    this.#o = { credentialSecrets: [], apiEndpointConfigured: false, timeoutMs: 5000, cacheMs: 2000, now: Date.now, ...options };
  }

  /** The components, podman first. Never throws: failures are components with status 'error'. */
  check(): Promise<HealthComponent[]> {
    const now = this.#o.now();
    if (this.#cached !== undefined && now - this.#cached.at < this.#o.cacheMs) return this.#cached.components;
    const components = this.#check();
    this.#cached = { at: now, components };
    return components;
  }

  /** Whether runs have credentials (the credentials component is ok). */
  async claudeConfigured(): Promise<boolean> {
    const components = await this.check();
    return components.some((c) => c.name === HealthComponents.credentials && c.status === 'ok');
  }

  async #check(): Promise<HealthComponent[]> {
    let names: Set<string>;
    try {
      names = new Set((await this.#withTimeout(this.#o.podman.listSecrets())).map((s) => s.name));
    } catch (err) {
      const reason = err instanceof Error ? boundedMessage(err.message, 200) : 'unknown error';
      return [
        { name: HealthComponents.podman, status: 'error', error: `failed to connect to podman: ${reason}` },
        { name: HealthComponents.credentials, status: 'error', error: 'cannot check the credentials secret: podman is not available' },
      ];
    }
    return [{ name: HealthComponents.podman, status: 'ok' }, this.#credentials(names)];
  }

  #credentials(existing: Set<string>): HealthComponent {
    const name = HealthComponents.credentials;
    const missing = this.#o.credentialSecrets.filter((s) => !existing.has(s));
    if (missing.length > 0) {
      return { name, status: 'error', error: `podman secret '${missing.join("', '")}' not found: create it with 'podman secret create'` };
    }
    if (this.#o.credentialSecrets.length > 0 || this.#o.apiEndpointConfigured) return { name, status: 'ok' };
    return { name, status: 'error', error: 'no Claude credentials configured: agent containers get no credentials secret and no API endpoint' };
  }

  #withTimeout<T>(promise: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.#o.timeoutMs} ms`)), this.#o.timeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }
}
