// The one container registry the API may search and pull from (stromboli.md §1.9, configured by
// `--image-registry`). Searching reads the registry's catalog through `podman search`; pulling
// runs `podman pull`; both over the Executor seam. Stromboli pulls from anywhere; this catalog
// pulls only from its configured registry (docs/compatibility.md "Images").
import { AppError, ValidationError } from '../../../contract/errors.ts';
import type { PulledImage, RegistryHit } from '../../../contract/catalog.ts';
import type { RegistryPort } from '../../../contract/ports.ts';
import { PodmanUnavailableError } from '../podman/client.ts';
import type { PodmanClient } from '../podman/client.ts';
import { compact } from '../../../contract/compact.ts';
import { checkImageRef } from './images.ts';

/** Registry hosts the setting accepts: a DNS name or IPv4 address with an optional port. */
export const REGISTRY_HOST_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?$/;

export interface RegistryCatalogOptions {
  podman: Pick<PodmanClient, 'searchImages' | 'pullImage'>;
  /** HOST[:PORT] of the registry, e.g. 127.0.0.1:5000 (REGISTRY_HOST_PATTERN). */
  registry: string;
  /** Plain http / unverified TLS (`--tls-verify=false`); default false. For a loopback or test registry only. */
  insecure?: boolean;
}

/**
 * The registry's name for `ref`: a name without a registry part is taken to be in the registry
 * (`stromboli/agent` → `HOST:PORT/stromboli/agent`); a name of any other registry is refused with a
 * ValidationError. A first component is a registry when it has a '.' or ':' or is `localhost`,
 * as podman reads names.
 */
export function qualifyImageRef(ref: string, registry: string): string {
  checkImageRef(ref);
  const slash = ref.indexOf('/');
  const first = slash < 0 ? '' : ref.slice(0, slash);
  const named = first.includes('.') || first.includes(':') || first === 'localhost';
  if (!named) return `${registry}/${ref}`;
  if (first === registry && slash < ref.length - 1) return ref;
  throw new ValidationError(`image must come from the configured registry ${registry}`, { details: { ref } });
}

/** RegistryPort over podman, for one registry. */
export class RegistryCatalog implements RegistryPort {
  readonly registry: string;
  readonly #podman: RegistryCatalogOptions['podman'];
  readonly #tlsVerify: boolean;

  constructor(options: RegistryCatalogOptions) {
    if (!REGISTRY_HOST_PATTERN.test(options.registry)) throw new RangeError(`registry must be HOST[:PORT], got '${options.registry}'`);
    this.registry = options.registry;
    this.#podman = options.podman;
    this.#tlsVerify = options.insecure !== true;
  }

  /**
   * Repositories whose name contains `term` (a leading `HOST:PORT/` of this registry is dropped).
   * UPSTREAM_FAILED when the registry cannot be read; UNAVAILABLE when podman itself cannot run.
   */
  async search(query: { term: string; limit: number; noTrunc: boolean }): Promise<RegistryHit[]> {
    const prefix = `${this.registry}/`;
    const term = query.term.startsWith(prefix) ? query.term.slice(prefix.length) : query.term;
    try {
      return await this.#podman.searchImages(`${prefix}${term}`, { limit: query.limit, noTrunc: query.noTrunc, tlsVerify: this.#tlsVerify });
    } catch (err) {
      if (err instanceof PodmanUnavailableError) throw err;
      throw new AppError('UPSTREAM_FAILED', 'registry search failed', { cause: err, details: { registry: this.registry } });
    }
  }

  /** Pulls `image` (qualified by qualifyImageRef) and returns its id and full name. */
  async pull(request: { image: string; platform?: string }): Promise<PulledImage> {
    const image = qualifyImageRef(request.image, this.registry);
    if (request.platform !== undefined && !/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/.test(request.platform)) {
      throw new ValidationError('invalid platform: expected OS/ARCH[/VARIANT]', { details: { platform: request.platform } });
    }
    const imageId = await this.#podman.pullImage(image, { tlsVerify: this.#tlsVerify, ...compact({ platform: request.platform }) });
    return { imageId, image };
  }
}
