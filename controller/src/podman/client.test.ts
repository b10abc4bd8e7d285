import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AppError, ValidationError } from '../../../contract/errors.ts';
import { CommandError } from '../exec/command-error.ts';
import { FakeExecutor } from '../exec/fake-executor.ts';
import { DEFAULT_COMMAND_TIMEOUT_MS, PodmanClient, PodmanUnavailableError, SECRET_VALUE_ENV } from './client.ts';

// Unit tests over FakeExecutor with real recorded podman 4.3.1 output (fixtures/capture.sh).
// The integration test controller/test/podman/client.int.test.ts runs the same paths for real.

const ENV = { CONTAINERS_CONF: '/etc/test/containers.conf' };
const ID = 'd7f1b1ad7fc6d51fc89650cb11901a238f8e8050427cd54f4a7c71b11aae6d75';
const RUN_ARGS = ['run', '--detach', '--name', 'c1', '--pull=never', 'localhost/img:1', 'sh'];

function fixture(name: string): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
}

function setup(configure: (fake: FakeExecutor) => void = () => undefined) {
  const fake = new FakeExecutor();
  configure(fake);
  const client = new PodmanClient({ executor: fake, podmanPath: '/usr/bin/podman', env: ENV });
  return { fake, client };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('PodmanClient options', () => {
  it('passes the podman path, env and the default time limit to every command', async () => {
    const { fake, client } = setup((f) => f.onRun({ prefix: ['/usr/bin/podman'] }, { exitCode: 0 }));
    await client.imageExists('localhost/img:1');
    expect(fake.calls).toEqual([
      { kind: 'run', argv: ['/usr/bin/podman', 'image', 'exists', 'localhost/img:1'], options: { env: ENV, timeoutMs: DEFAULT_COMMAND_TIMEOUT_MS }, matched: true },
    ]);
  });

  it('defaults the binary to podman and inherits the environment', async () => {
    const fake = new FakeExecutor().onRun(['podman', 'image', 'exists', 'x'], { exitCode: 0 });
    await new PodmanClient({ executor: fake }).imageExists('x');
    expect(fake.calls[0]?.options).toEqual({ timeoutMs: DEFAULT_COMMAND_TIMEOUT_MS });
  });
});

describe('PodmanClient.run', () => {
  it('runs podman with the given args and returns the container id', async () => {
    const { fake, client } = setup((f) => f.onRun(['/usr/bin/podman', ...RUN_ARGS], { stdout: `${ID}` }));
    expect(await client.run(RUN_ARGS)).toBe(ID);
    expect(fake.argvs).toEqual([['/usr/bin/podman', ...RUN_ARGS]]);
  });

  it('turns exit 125 into a CommandError with the argv and exit code in details', async () => {
    const { client } = setup((f) => f.onRun({ prefix: ['/usr/bin/podman', 'run'] }, { exitCode: 125, stderr: 'Error: name in use' }));
    const error = await rejection(client.run(RUN_ARGS));
    expect(error).toBeInstanceOf(CommandError);
    expect(error).toMatchObject({ code: 'COMMAND_FAILED', message: 'podman run failed', exitCode: 125, stderrTail: 'Error: name in use' });
    expect(error).toMatchObject({ details: { argv: ['/usr/bin/podman', ...RUN_ARGS], exitCode: 125 } });
  });

  it('reports exit 127 as podman unavailable when podman itself cannot be run', async () => {
    const { client } = setup(); // no rule at all: every command answers 127, like a missing binary
    const error = await rejection(client.run(RUN_ARGS));
    expect(error).toBeInstanceOf(PodmanUnavailableError);
    expect(error).toMatchObject({ code: 'UNAVAILABLE', details: { podmanPath: '/usr/bin/podman', exitCode: 127 } });
  });

  it("reports exit 127 as a command failure when podman runs (the container's command was not found)", async () => {
    const { client } = setup((f) => f.onRun({ prefix: ['/usr/bin/podman', 'run'] }, { exitCode: 127 }).onRun(['/usr/bin/podman', '--version'], { stdout: 'podman version 4.3.1' }));
    const error = await rejection(client.run(RUN_ARGS));
    expect(error).toBeInstanceOf(CommandError);
    expect(error).toMatchObject({ exitCode: 127 });
  });

  it('refuses args that are not a detached run', async () => {
    const { fake, client } = setup();
    await expect(client.run(['run', '--name', 'c1', 'img'])).rejects.toBeInstanceOf(ValidationError);
    await expect(client.run(['ps', '--detach'])).rejects.toBeInstanceOf(ValidationError);
    expect(fake.calls).toEqual([]);
  });
});

describe('PodmanClient.inspect', () => {
  it('returns the parsed state of an existing container', async () => {
    const { fake, client } = setup((f) => f.onRun(['/usr/bin/podman', 'container', 'inspect', '--format', 'json', 'c1'], { stdout: fixture('inspect-exited.json') }));
    expect(await client.inspect('c1')).toMatchObject({ name: 'strom-fixture-exited', status: 'exited', exitCode: 3 });
    expect(fake.calls).toHaveLength(1);
  });

  it('returns undefined in one call when inspect answers exit 125 with an empty JSON array (a missing container)', async () => {
    const { fake, client } = setup((f) => f.onRun({ prefix: ['/usr/bin/podman', 'container', 'inspect'] }, { exitCode: 125, stdout: fixture('inspect-missing.json') }));
    expect(await client.inspect('gone')).toBeUndefined();
    expect(fake.argvs).toEqual([['/usr/bin/podman', 'container', 'inspect', '--format', 'json', 'gone']]);
  });

  it('returns undefined when inspect fails otherwise and podman container exists says absent (exit 1)', async () => {
    const { fake, client } = setup((f) =>
      f.onRun({ prefix: ['/usr/bin/podman', 'container', 'inspect'] }, { exitCode: 125 }).onRun(['/usr/bin/podman', 'container', 'exists', 'gone'], { exitCode: 1 }),
    );
    expect(await client.inspect('gone')).toBeUndefined();
    expect(fake.argvs).toEqual([
      ['/usr/bin/podman', 'container', 'inspect', '--format', 'json', 'gone'],
      ['/usr/bin/podman', 'container', 'exists', 'gone'],
    ]);
  });

  it('throws when inspect fails although the container exists', async () => {
    const { client } = setup((f) =>
      f.onRun({ prefix: ['/usr/bin/podman', 'container', 'inspect'] }, { exitCode: 125 }).onRun({ prefix: ['/usr/bin/podman', 'container', 'exists'] }, { exitCode: 0 }),
    );
    await expect(client.inspect('c1')).rejects.toMatchObject({ code: 'COMMAND_FAILED', message: 'podman inspect failed', exitCode: 125 });
  });

  it('throws PodmanUnavailableError when podman cannot be run', async () => {
    const { fake, client } = setup();
    await expect(client.inspect('c1')).rejects.toBeInstanceOf(PodmanUnavailableError);
    expect(fake.calls).toHaveLength(1);
  });

  it('refuses a name podman would read as a flag', async () => {
    const { fake, client } = setup();
    await expect(client.inspect('--all')).rejects.toBeInstanceOf(ValidationError);
    await expect(client.inspect('')).rejects.toBeInstanceOf(ValidationError);
    expect(fake.calls).toEqual([]);
  });
});

describe('PodmanClient.listByLabel', () => {
  it('filters on every label, in sorted order, and parses the list', async () => {
    const argv = ['/usr/bin/podman', 'ps', '--all', '--format', 'json', '--filter', 'label=a.dev/owner=me', '--filter', 'label=z.dev/run=r1'];
    const { client } = setup((f) => f.onRun(argv, { stdout: fixture('ps-by-label.json') }));
    const list = await client.listByLabel({ 'z.dev/run': 'r1', 'a.dev/owner': 'me' });
    expect(list.map((c) => c.name).sort()).toEqual(['strom-fixture-created', 'strom-fixture-exited', 'strom-fixture-paused', 'strom-fixture-running', 'strom-fixture-stopped']);
  });

  it('refuses an empty label set, which would list every container', async () => {
    const { client } = setup();
    await expect(client.listByLabel({})).rejects.toBeInstanceOf(ValidationError);
  });

  it('refuses a label key containing =', async () => {
    const { client } = setup();
    await expect(client.listByLabel({ 'a=b': 'c' })).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('PodmanClient.stop and remove', () => {
  it('stops with --ignore and the grace period, allowing podman that much longer', async () => {
    const { fake, client } = setup((f) => f.onRun({ prefix: ['/usr/bin/podman', 'stop'] }, {}));
    await client.stop('c1', 7);
    expect(fake.calls[0]).toMatchObject({ argv: ['/usr/bin/podman', 'stop', '--ignore', '--time', '7', 'c1'], options: { timeoutMs: DEFAULT_COMMAND_TIMEOUT_MS + 7000 } });
  });

  it('refuses a negative or fractional stop timeout', async () => {
    const { client } = setup();
    await expect(client.stop('c1', -1)).rejects.toBeInstanceOf(ValidationError);
    await expect(client.stop('c1', 1.5)).rejects.toBeInstanceOf(ValidationError);
  });

  it('throws a CommandError when stop fails', async () => {
    const { client } = setup((f) => f.onRun({ prefix: ['/usr/bin/podman', 'stop'] }, { exitCode: 125 }));
    await expect(client.stop('c1', 1)).rejects.toBeInstanceOf(CommandError);
  });

  it('removes with --ignore, and with --force --time 0 when forced', async () => {
    const { fake, client } = setup((f) => f.onRun({ prefix: ['/usr/bin/podman', 'rm'] }, {}));
    await client.remove('c1');
    await client.remove('c2', { force: true });
    expect(fake.argvs).toEqual([
      ['/usr/bin/podman', 'rm', '--ignore', 'c1'],
      ['/usr/bin/podman', 'rm', '--ignore', '--force', '--time', '0', 'c2'],
    ]);
  });

  it('throws when rm fails (exit 2: the container is running and force was not set)', async () => {
    const { client } = setup((f) => f.onRun({ prefix: ['/usr/bin/podman', 'rm'] }, { exitCode: 2 }));
    await expect(client.remove('c1')).rejects.toMatchObject({ code: 'COMMAND_FAILED', exitCode: 2 });
  });
});

describe('PodmanClient.logs', () => {
  it('streams podman logs with --follow and --since', async () => {
    const { fake, client } = setup((f) => f.onStream({ prefix: ['/usr/bin/podman', 'logs'] }, { lines: ['a', 'b'] }));
    const controller = new AbortController();
    const handle = client.logs('c1', { follow: true, since: new Date('2026-01-02T03:04:05.000Z'), signal: controller.signal });
    const lines: string[] = [];
    for await (const line of handle.lines) lines.push(line);
    expect(lines).toEqual(['a', 'b']);
    expect((await handle.done).exitCode).toBe(0);
    expect(fake.calls[0]).toEqual({
      kind: 'stream',
      argv: ['/usr/bin/podman', 'logs', '--follow', '--since', '2026-01-02T03:04:05.000Z', 'c1'],
      options: { env: ENV, signal: controller.signal },
      matched: true,
    });
  });

  it('streams without --follow by default', () => {
    const { fake, client } = setup();
    client.logs('c1');
    expect(fake.argvs).toEqual([['/usr/bin/podman', 'logs', 'c1']]);
  });
});

describe('PodmanClient images', () => {
  it('decides image existence from the exit code: 0 present, 1 absent, other codes fail', async () => {
    const { client } = setup((f) =>
      f
        .onRun(['/usr/bin/podman', 'image', 'exists', 'yes'], { exitCode: 0 })
        .onRun(['/usr/bin/podman', 'image', 'exists', 'no'], { exitCode: 1 })
        .onRun(['/usr/bin/podman', 'image', 'exists', 'broken'], { exitCode: 125 }),
    );
    expect(await client.imageExists('yes')).toBe(true);
    expect(await client.imageExists('no')).toBe(false);
    await expect(client.imageExists('broken')).rejects.toBeInstanceOf(CommandError);
  });

  it('lists images', async () => {
    const { client } = setup((f) => f.onRun(['/usr/bin/podman', 'images', '--format', 'json'], { stdout: fixture('images.json') }));
    expect((await client.listImages())[0]?.names).toEqual(['localhost/stromboli/test-busybox:latest']);
  });
});

describe('PodmanClient registry', () => {
  const PULLED = '49039e67d850d082f9b766ba7de4fc70e25c20c0c0c51b3d61dbd2f43df97f5a';

  it('searches one registry with a limit, verifying TLS unless told not to', async () => {
    const { client } = setup((f) =>
      f.onRun(['/usr/bin/podman', 'search', '--format', 'json', '--limit', '25', '--tls-verify=false', '127.0.0.1:45123/fake'], { stdout: fixture('search.json') }),
    );
    expect(await client.searchImages('127.0.0.1:45123/fake', { limit: 25, tlsVerify: false })).toEqual([
      { index: '127.0.0.1:45123', name: '127.0.0.1:45123/stromboli/fake-claude', description: '', stars: 0, official: false, automated: false },
    ]);
  });

  it('reads an empty search output (podman prints nothing when no repository matches) as no results', async () => {
    const { client } = setup((f) => f.onRun(['/usr/bin/podman', 'search', '--format', 'json', '--limit', '5', '--no-trunc', '--tls-verify=true', 'r.test/none'], { stdout: '' }));
    expect(await client.searchImages('r.test/none', { limit: 5, noTrunc: true })).toEqual([]);
  });

  it('fails a search of an unreachable registry with a command error (exit 125)', async () => {
    const { client } = setup((f) => f.onRun(['/usr/bin/podman', 'search', '--format', 'json', '--limit', '1', '--tls-verify=true', 'r.test/x'], { exitCode: 125, stderr: 'connection refused' }));
    await expect(client.searchImages('r.test/x', { limit: 1 })).rejects.toMatchObject({ code: 'COMMAND_FAILED', exitCode: 125 });
  });

  it('pulls quietly and returns the image id podman prints', async () => {
    const { client } = setup((f) =>
      f.onRun(['/usr/bin/podman', 'pull', '--quiet', '--platform', 'linux/amd64', '--tls-verify=false', 'r.test/a:1'], { stdout: `${PULLED}\n` }),
    );
    expect(await client.pullImage('r.test/a:1', { platform: 'linux/amd64', tlsVerify: false })).toBe(PULLED);
  });

  it('fails a pull of a missing image with a command error, and refuses a name read as a flag', async () => {
    const { client } = setup((f) => f.onRun(['/usr/bin/podman', 'pull', '--quiet', '--tls-verify=true', 'r.test/missing'], { exitCode: 125 }));
    await expect(client.pullImage('r.test/missing')).rejects.toBeInstanceOf(CommandError);
    await expect(client.pullImage('--all-tags')).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('PodmanClient secrets', () => {
  const LS = ['/usr/bin/podman', 'secret', 'ls', '--format', '{{json .}}'];

  it('lists secrets from JSON lines and tells whether one exists by exact name', async () => {
    const { client } = setup((f) => f.onRun(LS, { stdout: fixture('secret-ls.jsonl') }));
    expect((await client.listSecrets()).map((s) => s.name).sort()).toEqual(['strom-fixture-secret-a', 'strom-fixture-secret-b']);
    expect(await client.secretExists('strom-fixture-secret-a')).toBe(true);
    expect(await client.secretExists('strom-fixture-secret')).toBe(false);
  });

  it('creates a secret with the value in the environment of that one command, never in argv', async () => {
    const value = 'sk-very-secret-value';
    const { fake, client } = setup((f) => f.onRun({ prefix: ['/usr/bin/podman', 'secret', 'rm'] }, {}).onRun({ prefix: ['/usr/bin/podman', 'secret', 'create'] }, {}));
    await client.createSecret('creds', value);
    expect(fake.argvs).toEqual([
      ['/usr/bin/podman', 'secret', 'rm', 'creds'],
      ['/usr/bin/podman', 'secret', 'create', '--env', 'creds', SECRET_VALUE_ENV],
    ]);
    expect(fake.calls[1]?.options.env).toEqual({ ...ENV, [SECRET_VALUE_ENV]: value });
    expect(fake.calls[0]?.options.env).toEqual(ENV);
    for (const call of fake.calls) expect(call.argv.some((arg) => arg.includes(value))).toBe(false);
  });

  it('refuses an empty secret value before calling podman', async () => {
    const { fake, client } = setup();
    await expect(client.createSecret('creds', '')).rejects.toBeInstanceOf(ValidationError);
    await expect(client.createSecret('creds', 'a\0b')).rejects.toBeInstanceOf(ValidationError);
    await expect(client.createSecret('creds', 'x'.repeat(512_000))).rejects.toBeInstanceOf(ValidationError);
    expect(fake.calls).toEqual([]);
  });

  it('keeps the secret value out of the error when create fails', async () => {
    const value = 'sk-very-secret-value';
    const { client } = setup((f) =>
      f.onRun({ prefix: ['/usr/bin/podman', 'secret', 'rm'] }, {}).onRun({ prefix: ['/usr/bin/podman', 'secret', 'create'] }, { exitCode: 125, stderr: 'Error: x' }),
    );
    const error = await rejection(client.createSecret('creds', value));
    expect(error).toBeInstanceOf(CommandError);
    expect(JSON.stringify(error instanceof AppError ? { ...error, message: error.message } : {})).not.toContain(value);
  });

  it('treats removing a missing secret as done, decided from the listing', async () => {
    const { fake, client } = setup((f) => f.onRun({ prefix: ['/usr/bin/podman', 'secret', 'rm'] }, { exitCode: 125 }).onRun(LS, { stdout: '' }));
    await client.removeSecret('creds');
    expect(fake.argvs).toEqual([['/usr/bin/podman', 'secret', 'rm', 'creds'], LS]);
  });

  it('throws when rm fails and the secret is still listed', async () => {
    const { client } = setup((f) =>
      f.onRun({ prefix: ['/usr/bin/podman', 'secret', 'rm'] }, { exitCode: 125 }).onRun(LS, { stdout: '{"ID":"abc","Name":"creds","Driver":"file"}\n' }),
    );
    await expect(client.removeSecret('creds')).rejects.toMatchObject({ code: 'COMMAND_FAILED', message: 'podman secret rm failed' });
  });
});
