// User secrets for runs' secretsEnv, kept as podman secrets: list, read metadata, create, delete.
// Values go to podman through PodmanClient (never argv, never logged) and never come back.
import { AppError, ValidationError } from '../../../contract/errors.ts';
import type { SecretInfo } from '../../../contract/catalog.ts';
import type { SecretPort } from '../../../contract/ports.ts';
import type { PodmanClient } from '../podman/client.ts';

export type { SecretInfo };

/** Secret names the API accepts: Stromboli's pattern, minus a leading '-' (podman would read it as a flag). */
export const SECRET_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;
/** Stromboli's limit on a secret name. */
export const MAX_SECRET_NAME_LENGTH = 253;

/** Throws ValidationError unless `name` is a secret name the API accepts. */
export function checkSecretName(name: string): void {
  if (name.length === 0 || name.length > MAX_SECRET_NAME_LENGTH || !SECRET_NAME_PATTERN.test(name)) {
    throw new ValidationError('invalid secret name: use 1 to 253 letters, digits, "_" or "-", not starting with "-"', { details: { name } });
  }
}

/** The secret already exists (POST never replaces one). */
export class SecretExistsError extends AppError {
  constructor(name: string) {
    super('ALREADY_EXISTS', 'secret already exists', { details: { name } });
  }
}

export interface SecretCatalogOptions {
  podman: Pick<PodmanClient, 'listSecrets' | 'createSecret' | 'removeSecret'>;
  /** Names the server manages itself (the Claude credential secrets): listed, but never created or deleted through the API. Default none. */
  reserved?: readonly string[];
}

/** The secret belongs to the server (FORBIDDEN): deleting it would break every run until a restart. */
export class ReservedSecretError extends AppError {
  constructor(name: string) {
    super('FORBIDDEN', 'secret is managed by the server (Claude credentials); change it through the server configuration', { details: { name } });
  }
}

/** The API's view of podman secrets. */
export class SecretCatalog implements SecretPort {
  readonly #podman: SecretCatalogOptions['podman'];
  readonly #reserved: ReadonlySet<string>;
  // PodmanClient.createSecret replaces an existing secret; creates of one name are serialized so
  // the existence check and the create cannot interleave with another create of that name.
  readonly #creating = new Map<string, Promise<void>>();

  constructor(options: SecretCatalogOptions) {
    this.#podman = options.podman;
    this.#reserved = new Set(options.reserved ?? []);
  }

  async list(): Promise<SecretInfo[]> {
    const secrets = await this.#podman.listSecrets();
    return secrets.map((s) => ({ id: s.id, name: s.name })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The secret's metadata; undefined when there is none of that name. */
  async get(name: string): Promise<SecretInfo | undefined> {
    checkSecretName(name);
    return (await this.list()).find((s) => s.name === name);
  }

  /** Creates the secret; SecretExistsError when one of that name exists, ReservedSecretError for the server's own, ValidationError for a bad name or value. */
  async create(name: string, value: string): Promise<void> {
    checkSecretName(name);
    if (this.#reserved.has(name)) throw new ReservedSecretError(name);
    const previous = this.#creating.get(name) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(async () => {
      if ((await this.list()).some((s) => s.name === name)) throw new SecretExistsError(name);
      await this.#podman.createSecret(name, value);
    });
    this.#creating.set(name, current);
    try {
      await current;
    } finally {
      if (this.#creating.get(name) === current) this.#creating.delete(name);
    }
  }

  /** Removes the secret; false when there was none of that name. ReservedSecretError for the server's own. */
  async remove(name: string): Promise<boolean> {
    checkSecretName(name);
    if (this.#reserved.has(name)) throw new ReservedSecretError(name);
    if (!(await this.list()).some((s) => s.name === name)) return false;
    await this.#podman.removeSecret(name);
    return true;
  }
}
