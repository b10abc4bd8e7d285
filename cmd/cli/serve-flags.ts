// Every `stromboli serve` flag, stated once: the usage text, the parseArgs options and the mapping
// onto ServeConfig are all derived from this table, and the defaults shown come from the schema
// (passed in: this file is on every command's import path, the schema is not).
import type { ParseArgsConfig } from 'node:util';
import type { ServeConfigInput } from '../config.ts';
import { CliError } from './cli-error.ts';

/** How a flag's text becomes a config value. */
type FlagKind = 'string' | 'int' | 'list' | 'env-pairs' | 'on-off';

interface ServeFlag {
  flag: string;
  key: keyof ServeConfigInput;
  kind: FlagKind;
  /** Placeholder in the usage text, e.g. DIR; absent for on-off flags. */
  value?: string;
  /** Shown after the default (or instead of it, for flags without one). */
  note?: string;
}

/** The table; the usage lists the flags in this order. */
export const SERVE_FLAGS: readonly ServeFlag[] = [
  { flag: 'runs-dir', key: 'runsDir', kind: 'string', value: 'DIR' },
  { flag: 'state-dir', key: 'stateDir', kind: 'string', value: 'DIR' },
  { flag: 'host', key: 'host', kind: 'string', value: 'H' },
  { flag: 'port', key: 'port', kind: 'int', value: 'N' },
  { flag: 'max-concurrent-runs', key: 'maxConcurrentRuns', kind: 'int', value: 'N' },
  { flag: 'allowed-volume', key: 'allowedVolumes', kind: 'list', value: 'PATH', note: 'repeatable' },
  { flag: 'containers-conf', key: 'containersConf', kind: 'string', value: 'FILE' },
  { flag: 'image', key: 'image', kind: 'string', value: 'REF' },
  { flag: 'image-registry', key: 'imageRegistry', kind: 'string', value: 'HOST:PORT', note: 'the one registry /images/search and /images/pull use; default none (503)' },
  { flag: 'image-registry-insecure', key: 'imageRegistryInsecure', kind: 'on-off', note: 'plain http / unverified TLS to --image-registry; default off' },
  { flag: 'podman-api', key: 'podmanApi', kind: 'on-off', note: '--no-podman-api: every podman call through the CLI; default: on, the CLI when the service cannot start' },
  { flag: 'container-network', key: 'containerNetwork', kind: 'string', value: 'MODE' },
  { flag: 'anthropic-base-url', key: 'anthropicBaseUrl', kind: 'string', value: 'URL' },
  { flag: 'container-env', key: 'containerEnv', kind: 'env-pairs', value: 'KEY=VALUE', note: 'repeatable' },
  { flag: 'claude-credentials-file', key: 'claudeCredentialsFile', kind: 'string', value: 'FILE', note: 'credentials also come from ANTHROPIC_API_KEY / CLAUDE_CODE_OAUTH_TOKEN' },
  { flag: 'auth', key: 'auth', kind: 'on-off', note: '--no-auth turns it off; default: required unless listening on loopback without credentials' },
  { flag: 'jwt-secret-file', key: 'jwtSecretFile', kind: 'string', value: 'FILE', note: 'or STROMBOLI_JWT_SECRET' },
  { flag: 'api-token-file', key: 'apiTokenFile', kind: 'string', value: 'FILE', note: 'or STROMBOLI_API_TOKENS' },
  { flag: 'jwt-access-ttl', key: 'jwtAccessTtlSeconds', kind: 'int', value: 'SECONDS' },
  { flag: 'jwt-refresh-ttl', key: 'jwtRefreshTtlSeconds', kind: 'int', value: 'SECONDS' },
  { flag: 'rate-limit', key: 'rateLimitPerMinute', kind: 'int', value: 'N', note: 'requests per minute per client; 0 = off' },
  { flag: 'trusted-proxy', key: 'trustedProxies', kind: 'list', value: 'IP|CIDR', note: 'repeatable' },
  { flag: 'body-limit', key: 'bodyLimitBytes', kind: 'int', value: 'BYTES' },
  { flag: 'tracing-endpoint', key: 'tracingEndpoint', kind: 'string', value: 'URL|HOST:PORT', note: 'OpenTelemetry spans over OTLP/HTTP; default off' },
  { flag: 'tracing-insecure', key: 'tracingInsecure', kind: 'on-off', note: 'plain http to a HOST:PORT tracing endpoint; default off (https)' },
  { flag: 'stromboli-api-version', key: 'stromboliApiVersion', kind: 'string', value: 'V', note: "answer shapes for requests without X-Stromboli-Api-Version: 0.3 lists sessions and secrets as strings; default 0.5.7" },
  { flag: 'metrics-address', key: 'metricsAddress', kind: 'string', value: 'HOST:PORT', note: 'off; e.g. 127.0.0.1:9090, never the API port' },
];

/** parseArgs options of the serve flags. */
export function serveFlagOptions(): NonNullable<ParseArgsConfig['options']> {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const f of SERVE_FLAGS) {
    options[f.flag] = f.kind === 'on-off' ? { type: 'boolean' } : f.kind === 'list' || f.kind === 'env-pairs' ? { type: 'string', multiple: true } : { type: 'string' };
  }
  return options;
}

/** The serve part of the usage text, with the schema's defaults (`ServeConfigSchema.parse({})`). */
export function serveFlagUsage(defaults: Readonly<Record<string, unknown>>): string {
  return SERVE_FLAGS.map((f) => {
    const value = defaults[f.key];
    const shown = f.kind === 'on-off' || Array.isArray(value) || (typeof value === 'object' && value !== null) || value === undefined ? undefined : String(value);
    const extra = [shown, f.note].filter((x) => x !== undefined).join('; ');
    return `  --${f.flag}${f.value === undefined ? '' : ` ${f.value}`}${extra === '' ? '' : ` (${extra})`}`;
  }).join('\n');
}

/** The ServeConfig input of the parsed flags; a malformed value throws CliError naming the flag. */
export function serveConfigInput(values: Record<string, unknown>): ServeConfigInput {
  const input: Record<string, unknown> = {};
  for (const f of SERVE_FLAGS) {
    const raw = values[f.flag];
    if (raw === undefined) continue;
    switch (f.kind) {
      case 'string':
      case 'list':
        input[f.key] = raw;
        break;
      case 'int':
        input[f.key] = intFlag(String(raw), f.flag);
        break;
      case 'env-pairs':
        input[f.key] = parseEnvPairs(raw as string[], f.flag);
        break;
      case 'on-off':
        input[f.key] = raw === true ? 'on' : 'off';
        break;
    }
  }
  return input as ServeConfigInput;
}

function intFlag(value: string, flag: string): number {
  if (!/^\d+$/.test(value)) throw new CliError(`--${flag} must be a whole number, got '${value}'`);
  return Number(value);
}

/** KEY=VALUE pairs of a repeatable flag. */
function parseEnvPairs(pairs: readonly string[], flag: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(`--${flag} takes KEY=VALUE, got '${pair}'`, 2);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}
