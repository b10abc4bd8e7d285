// Stromboli's wire format of PodmanOptions: the snake_case keys its API takes (top level and
// lifecycle), tied to the camelCase schemas of the contract by `satisfies`, and the conversion of a
// request's `podman` object. Only the facade speaks it.
import type { LifecycleHooks, PodmanOptions } from '../../../contract/apis/v1alpha1/index.ts';
import { isPlainObject } from '../../../contract/store/canonical-json.ts';

/** Our camelCase keys → Stromboli's snake_case keys (top level); `satisfies` proves completeness. */
export const PODMAN_OPTIONS_CAMEL_TO_SNAKE = {
  image: 'image',
  volumes: 'volumes',
  secretsEnv: 'secrets_env',
  memory: 'memory',
  cpus: 'cpus',
  cpuShares: 'cpu_shares',
  timeout: 'timeout',
  lifecycle: 'lifecycle',
} as const satisfies Record<keyof PodmanOptions, string>;

/** Our camelCase lifecycle keys → Stromboli's snake_case keys. */
export const LIFECYCLE_CAMEL_TO_SNAKE = {
  onCreateCommand: 'on_create_command',
  postCreate: 'post_create',
  postStart: 'post_start',
  hooksTimeout: 'hooks_timeout',
} as const satisfies Record<keyof LifecycleHooks, string>;

/** Result of renaming a snake_case PodmanOptions object; `options` still needs PodmanOptionsSchema. */
export interface PodmanSnakeConversion {
  /** camelCase options, unvalidated; the input itself when it was not a JSON object. */
  options: unknown;
  /** Keys Stromboli would ignore (unknown JSON fields), dotted for nested ones; sorted. */
  ignoredKeys: string[];
}

function renameKeys(input: Record<string, unknown>, camelToSnake: Readonly<Record<string, string>>, prefix: string, ignoredKeys: string[]): Record<string, unknown> {
  const snakeToCamel = new Map(Object.entries(camelToSnake).map(([camel, snake]) => [snake, camel]));
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    const camel = snakeToCamel.get(key);
    if (camel === undefined) ignoredKeys.push(prefix + key);
    else if (value !== null && value !== '') out[camel] = value;
  }
  return out;
}

/**
 * Why: the facade receives Stromboli's snake_case `podman` object. Renames keys (lifecycle too),
 * drops `null` and `""` (Go's "not set") and unknown keys. A compose `environment` (not supported)
 * is kept, so the strict schema refuses the request instead of silently running without compose.
 */
export function podmanOptionsFromSnake(input: unknown): PodmanSnakeConversion {
  if (!isPlainObject(input)) return { options: input, ignoredKeys: [] };
  const ignoredKeys: string[] = [];
  const { environment, ...rest } = input;
  const options = renameKeys(rest, PODMAN_OPTIONS_CAMEL_TO_SNAKE, '', ignoredKeys);
  if (isPlainObject(options.lifecycle)) options.lifecycle = renameKeys(options.lifecycle, LIFECYCLE_CAMEL_TO_SNAKE, 'lifecycle.', ignoredKeys);
  if (environment !== undefined && environment !== null) {
    const type = isPlainObject(environment) ? environment.type : environment;
    if (type === undefined || type === null || type === '') ignoredKeys.push('environment');
    else options.environment = environment;
  }
  return { options, ignoredKeys: ignoredKeys.sort() };
}
