// PodmanOptions: Stromboli's per-run container options (reference §3, §7, §11.1) in camelCase, as
// the `spec.podman` block of an AgentRun. Shapes are checked here; host-dependent rules (volume
// allowlist, image patterns) are checked by runner/workspace.ts, which knows the configuration.
import { z } from 'zod';

// A Map, not an object literal: a unit like "constructor" must not find Object.prototype.
const UNIT_NS: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['\u00b5s', 1_000n], // micro sign
  ['\u03bcs', 1_000n], // Greek mu
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);
const MAX_INT64 = 2n ** 63n - 1n;

/**
 * Why: Stromboli's `timeout` and `hooks_timeout` are Go duration strings ("30m", "1h30m", "1.5s").
 * Returns the duration in milliseconds (fractional below 1 ms), or undefined when Go's
 * time.ParseDuration would refuse the text. Negative durations parse, as in Go.
 */
export function parseDuration(value: string): number | undefined {
  let rest = value;
  let negative = false;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    negative = rest.startsWith('-');
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  const part = /([0-9]*)(?:\.([0-9]*))?([^0-9.]+)/y;
  let totalNs = 0n;
  while (part.lastIndex < rest.length) {
    const start = part.lastIndex;
    const match = part.exec(rest);
    if (match === null || match.index !== start) return undefined; // sticky: a gap is a syntax error
    const [, whole = '', fraction, unit = ''] = match;
    const unitNs = UNIT_NS.get(unit);
    if (unitNs === undefined || (whole === '' && (fraction ?? '') === '')) return undefined;
    totalNs += BigInt(whole === '' ? '0' : whole) * unitNs;
    if (fraction !== undefined && fraction !== '') totalNs += (BigInt(fraction) * unitNs) / 10n ** BigInt(fraction.length);
    if (totalNs > MAX_INT64) return undefined;
  }
  const ms = Number(totalNs) / 1e6;
  return negative ? -ms : ms;
}

// A positive Go duration (no sign, no bare "0"); the pattern lands in the CRD, the refine is exact.
const DURATION = /^(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$/;
const duration = (maxMs: number, maxText: string) =>
  z
    .string()
    .min(1)
    .max(64)
    .regex(DURATION, 'must be a positive Go duration such as "30m" or "1h30m"')
    .refine((text) => {
      const ms = parseDuration(text);
      return ms !== undefined && ms > 0 && ms <= maxMs;
    }, `must be more than 0 and at most ${maxText}`);

/** Env names the controller sets itself, so a secret may not take them (LD_* is refused too, see isAllowedSecretEnvName). */
export const RESERVED_ENV_NAMES: readonly string[] = ['HOME', 'PATH'];
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Podman secret names: a letter or digit, then letters, digits, "_", "." or "-" (no "," that could add --secret options). */
const SECRET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** True when `name` may receive a secret: a valid env name, not LD_* (loader hijack), not controller-owned. */
export function isAllowedSecretEnvName(name: string): boolean {
  return ENV_NAME.test(name) && name.length <= 256 && !name.startsWith('LD_') && !RESERVED_ENV_NAMES.includes(name);
}

const HOOK_ARRAY_MAX = 100;
const HOOK_ENTRY_MAX = 4096;
const HOOK_TOTAL_ENTRIES = 200;
const HOOK_TOTAL_CHARS = 65_536;

const hookList = (description: string) =>
  z
    .array(z.string().min(1).max(HOOK_ENTRY_MAX).regex(/^[^\x00]+$/, 'must not contain NUL'))
    .max(HOOK_ARRAY_MAX)
    .optional()
    .describe(description);

/** Commands run in the container before Claude, fail-fast (reference §11.1). */
export const LifecycleHooksSchema = z
  .strictObject({
    onCreateCommand: hookList('Shell commands run once per session, before postCreate; each entry is one complete `sh -c` command. Default: none.'),
    postCreate: hookList('Shell commands run once per session, after onCreateCommand. Default: none.'),
    postStart: hookList('Shell commands run before Claude on every run. Default: none.'),
    hooksTimeout: duration(3_600_000, '1h')
      .optional()
      .describe('Go duration bounding all hooks of one run together (needs `timeout` in the image), at most 1h. Default: no hook-specific limit (the run timeout still applies).'),
  })
  .superRefine((hooks, ctx) => {
    const all = [...(hooks.onCreateCommand ?? []), ...(hooks.postCreate ?? []), ...(hooks.postStart ?? [])];
    if (all.length > HOOK_TOTAL_ENTRIES) ctx.addIssue({ code: 'custom', message: `at most ${HOOK_TOTAL_ENTRIES} hook entries in total` });
    const chars = all.reduce((sum, entry) => sum + entry.length, 0);
    if (chars > HOOK_TOTAL_CHARS) ctx.addIssue({ code: 'custom', message: `at most ${HOOK_TOTAL_CHARS} hook characters in total` });
  });

/** Lifecycle hooks after validation. */
export type LifecycleHooks = z.infer<typeof LifecycleHooksSchema>;

/** The `spec.podman` block: image, mounts, secrets and limits of the run's container. */
export const PodmanOptionsSchema = z.strictObject({
  image: z
    .string()
    .min(1)
    .max(512)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/, 'must be an image reference such as "python:3.12"')
    .optional()
    .describe("Container image; must match the controller's allowed image patterns. Default: the controller's agent image."),
  volumes: z
    .array(z.string().min(3).max(8192).regex(/^[^\x00]+$/, 'must not contain NUL'))
    .max(64)
    .optional()
    .describe('Bind mounts as "host:container[:options]"; the host path must be absolute and inside the controller\'s volume allowlist (none by default, so every volume is refused). Default: none.'),
  secretsEnv: z
    .record(
      z.string().regex(ENV_NAME, 'must be an environment variable name').refine(isAllowedSecretEnvName, 'LD_*, HOME and PATH cannot receive a secret'),
      z.string().min(1).max(253).regex(SECRET_NAME, 'must be a podman secret name'),
    )
    .refine((secrets) => Object.keys(secrets).length <= 50, 'at most 50 secrets')
    .optional()
    .meta({
      description: 'Environment variable name → name of an existing podman secret, injected with --secret NAME,type=env,target=VAR. Default: none.',
      maxProperties: 50,
    }),
  memory: z
    .string()
    .min(1)
    .max(32)
    .regex(/^[0-9]+(\.[0-9]+)?([kKmMgGtT][iI]?)?[bB]?$/, 'must be a size such as "512m" or "2g"')
    .refine((memory) => Number.parseFloat(memory) > 0, 'must be more than 0')
    .optional()
    .describe("Memory limit: podman --memory. Default: the controller's default (512m unless configured)."),
  cpus: z
    .string()
    .min(1)
    .max(16)
    .regex(/^([0-9]+(\.[0-9]*)?|\.[0-9]+)$/, 'must be a number such as "0.5" or "2"')
    .refine((cpus) => Number(cpus) > 0, 'must be more than 0')
    .optional()
    .describe("CPU limit: podman --cpus. Default: the controller's default (1 unless configured)."),
  cpuShares: z.number().int().min(2).max(262_144).optional().describe("Relative CPU weight: podman --cpu-shares. Default: podman's default (1024)."),
  timeout: duration(7 * 24 * 3_600_000, '168h')
    .optional()
    .describe("Run deadline as a Go duration (e.g. \"30m\"), at most 168h; enforced by podman --timeout and the controller. Default: the controller's default (30m unless configured)."),
  lifecycle: LifecycleHooksSchema.optional().describe('Lifecycle hooks run inside the container before Claude. Default: none.'),
});

/** Podman options after validation. */
export type PodmanOptions = z.infer<typeof PodmanOptionsSchema>;
