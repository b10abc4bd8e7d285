import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ServeConfigSchema } from '../config.ts';
import { CliError } from './client.ts';
import { SERVE_FLAGS, serveConfigInput, serveFlagOptions, serveFlagUsage } from './serve-flags.ts';

function parse(argv: string[]) {
  return parseArgs({ args: argv, options: serveFlagOptions(), allowNegative: true, strict: true }).values;
}

describe('serve flags', () => {
  it('map every flag onto the config schema', () => {
    const values = parse([
      '--port', '9000', '--allowed-volume', '/a', '--allowed-volume', '/b', '--container-env', 'A=1', '--container-env', 'B=x=y',
      '--no-auth', '--metrics-address', '127.0.0.1:9090', '--runs-dir', 'r', '--image-registry', '127.0.0.1:5000', '--image-registry-insecure',
    ]);
    const config = ServeConfigSchema.parse(serveConfigInput(values));
    expect(config).toMatchObject({ port: 9000, allowedVolumes: ['/a', '/b'], containerEnv: { A: '1', B: 'x=y' }, auth: 'off', metricsAddress: '127.0.0.1:9090', runsDir: 'r', imageRegistry: '127.0.0.1:5000', imageRegistryInsecure: 'on' });
    for (const flag of SERVE_FLAGS) expect(Object.keys(ServeConfigSchema.shape)).toContain(flag.key);
  });

  it('refuse malformed values naming the flag', () => {
    expect(() => serveConfigInput(parse(['--port', 'eighty']))).toThrow(new CliError("--port must be a whole number, got 'eighty'"));
    expect(() => serveConfigInput(parse(['--container-env', 'NOVALUE']))).toThrow(/--container-env takes KEY=VALUE/);
  });

  it('show the schema defaults in the usage, one flag a line', () => {
    const usage = serveFlagUsage(ServeConfigSchema.parse({}));
    expect(usage.split('\n')).toHaveLength(SERVE_FLAGS.length);
    expect(usage).toContain('--port N (8585)');
    expect(usage).toContain('--max-concurrent-runs N (4)');
    expect(usage).toContain('--rate-limit N (600; requests per minute per client; 0 = off)');
  });
});
