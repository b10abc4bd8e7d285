import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TerminalError } from '../../../contract/errors.ts';
import {
  ALLOWED_MOUNT_OPTIONS,
  BLOCKED_CONTAINER_PATHS,
  WorkspaceReasons,
  isBlockedTarget,
  isClaudeCliIncompatible,
  matchesImagePattern,
  normalizeImageName,
  resolveHostPath,
  validateImage,
  validateVolumes,
  validateWorkdir,
} from './workspace.ts';

/** The TerminalError a call threw, or a failure when it did not throw one. */
async function refusal(promise: Promise<unknown>): Promise<TerminalError> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof TerminalError)) throw new Error(`expected a TerminalError, got ${String(err)}`);
  return err;
}

function syncRefusal(fn: () => unknown): TerminalError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TerminalError) return err;
    throw err;
  }
  throw new Error('expected a TerminalError, nothing was thrown');
}

// Layout (under a fresh temp dir; `root` is its real path):
//   allowed/                     the allowlist entry
//   allowed/project/             a normal directory
//   allowed/file.txt             a file
//   allowed/inner -> project     a symlink that stays inside
//   allowed/escape -> ../outside a symlink that leaves the allowlist
//   allowed/loop-a <-> loop-b    a symlink loop
//   allowed-sibling/             shares the allowlist entry's prefix
//   outside/                     not allowed
//   allowed-link -> allowed      an allowlist entry that is a symlink
let root = '';
let allowed = '';
let outside = '';

beforeAll(async () => {
  root = await realpath(await mkdtemp(path.join(tmpdir(), 'workspace-test-')));
  allowed = path.join(root, 'allowed');
  outside = path.join(root, 'outside');
  await mkdir(path.join(allowed, 'project'), { recursive: true });
  await mkdir(path.join(root, 'allowed-sibling'));
  await mkdir(outside);
  await writeFile(path.join(allowed, 'file.txt'), 'x');
  await symlink('project', path.join(allowed, 'inner'));
  await symlink('../outside', path.join(allowed, 'escape'));
  await symlink('loop-b', path.join(allowed, 'loop-a'));
  await symlink('loop-a', path.join(allowed, 'loop-b'));
  await symlink('allowed', path.join(root, 'allowed-link'));
});

afterAll(async () => {
  if (root !== '') await rm(root, { recursive: true, force: true });
});

describe('validateVolumes', () => {
  const only = (volume: string, allowedPaths: readonly string[] = [allowed]) => validateVolumes([volume], { allowedPaths });

  it('returns no mounts for no volumes, even without an allowlist', async () => {
    await expect(validateVolumes([], { allowedPaths: [] })).resolves.toEqual([]);
  });

  it('refuses every volume when the allowlist is empty (deny by default)', async () => {
    const err = await refusal(only(`${allowed}/project:/workspace`, []));
    expect(err.reason).toBe(WorkspaceReasons.VolumeNotAllowed);
    expect(err.code).toBe('FORBIDDEN_PATH');
    expect(err.message).toMatch(/^volume validation failed: volume host path not allowed/);
  });

  it('accepts a directory inside the allowlist and returns the mount to use', async () => {
    await expect(only(`${allowed}/project:/workspace:ro,Z`)).resolves.toEqual([
      { source: `${allowed}/project`, target: '/workspace', readOnly: true, options: ['Z'], exists: true, volume: `${allowed}/project:/workspace:ro,Z` },
    ]);
  });

  it('accepts the allowlist entry itself', async () => {
    await expect(only(`${allowed}:/workspace`)).resolves.toMatchObject([{ source: allowed, readOnly: false, options: [] }]);
  });

  it('refuses a sibling that only shares the allowlist entry\'s prefix', async () => {
    const err = await refusal(only(`${root}/allowed-sibling:/workspace`));
    expect(err.reason).toBe(WorkspaceReasons.VolumeNotAllowed);
  });

  it('refuses a directory outside the allowlist', async () => {
    expect((await refusal(only(`${outside}:/workspace`))).reason).toBe(WorkspaceReasons.VolumeNotAllowed);
  });

  it('refuses a symlink inside the allowlist that points outside it', async () => {
    const err = await refusal(only(`${allowed}/escape:/workspace`));
    expect(err.reason).toBe(WorkspaceReasons.VolumeNotAllowed);
    expect(err.message).toContain('outside the volume allowlist');
    expect(err.message).not.toContain(outside); // where a symlink points is not told to the client
  });

  it('mounts the resolved target of a symlink that stays inside', async () => {
    await expect(only(`${allowed}/inner:/workspace`)).resolves.toMatchObject([{ source: `${allowed}/project`, exists: true }]);
  });

  it('resolves symlinks in the allowlist entries too', async () => {
    const viaLink = [`${root}/allowed-link`];
    await expect(only(`${allowed}/project:/w`, viaLink)).resolves.toMatchObject([{ source: `${allowed}/project` }]);
    await expect(only(`${root}/allowed-link/project:/w`, viaLink)).resolves.toMatchObject([{ source: `${allowed}/project` }]);
    await expect(only(`${root}/allowed-link/project:/w`)).resolves.toMatchObject([{ source: `${allowed}/project` }]);
  });

  it('accepts a path that does not exist yet when its nearest existing parent is inside, and says so', async () => {
    await expect(only(`${allowed}/new/deeper:/w`)).resolves.toMatchObject([{ source: `${allowed}/new/deeper`, exists: false }]);
  });

  it('refuses a path that does not exist yet below a symlink that leaves the allowlist', async () => {
    // Stromboli checks a missing path unresolved, so allowed/escape/new passed and was created in outside/.
    const err = await refusal(only(`${allowed}/escape/new:/w`));
    expect(err.reason).toBe(WorkspaceReasons.VolumeNotAllowed);
    expect(err.message).toContain('outside the volume allowlist');
  });

  it('refuses a path whose resolution fails for another reason than "does not exist" (fail closed)', async () => {
    for (const host of [`${allowed}/loop-a`, `${allowed}/loop-a/x`, `${allowed}/file.txt/x`]) {
      const err = await refusal(only(`${host}:/w`));
      expect(err.reason, host).toBe(WorkspaceReasons.VolumeNotAllowed);
      expect(err.message, host).toContain('cannot be resolved');
      expect(err.cause, host).toBeDefined();
    }
  });

  it('refuses ".." in either path, even when it would resolve inside', async () => {
    for (const volume of [`${allowed}/project/..:/w`, `${allowed}/../allowed/project:/w`, `${allowed}/project:/w/../etc`]) {
      const err = await refusal(only(volume));
      expect(err.reason, volume).toBe(WorkspaceReasons.InvalidVolume);
      expect(err.code, volume).toBe('FORBIDDEN_PATH');
      expect(err.message, volume).toContain('path traversal');
    }
  });

  it('accepts names that merely contain two dots', async () => {
    await expect(only(`${allowed}/project..old:/w..x`)).resolves.toMatchObject([{ source: `${allowed}/project..old`, target: '/w..x', exists: false }]);
  });

  it('refuses relative host paths and named volumes', async () => {
    for (const volume of ['data:/data', './data:/data', 'allowed/project:/w']) {
      const err = await refusal(only(volume));
      expect(err.reason, volume).toBe(WorkspaceReasons.InvalidVolume);
      expect(err.message, volume).toContain('must be absolute');
    }
  });

  it.each(['nocolon', ':/x', '/x:', '/a:/b:', '/a:/b:ro:extra', '', 'C:\\data:/data'])('refuses the malformed volume %j', async (volume) => {
    const err = await refusal(only(volume));
    expect(err.reason).toBe(WorkspaceReasons.InvalidVolume);
  });

  it('refuses NUL in a volume', async () => {
    expect((await refusal(only(`${allowed}\u0000:/w`))).reason).toBe(WorkspaceReasons.InvalidVolume);
  });

  it('refuses a relative container path', async () => {
    expect((await refusal(only(`${allowed}:workspace`))).message).toContain('must be absolute');
  });

  it.each([
    ...BLOCKED_CONTAINER_PATHS,
    '/etc/ssl',
    '/home/user/.ssh/keys',
    '/home/user/.claude/projects',
    '//etc/',
    '/./etc',
    '/usr/bin/',
    // ancestors: mounting there would shadow a blocked path
    '/',
    '/home',
    '/home/user',
    '/home/user/',
    '/usr',
    '/usr/local',
    '/var',
  ])('refuses the container path %s', async (target) => {
    const err = await refusal(only(`${allowed}:${target}`));
    expect(err.reason).toBe(WorkspaceReasons.InvalidVolume);
    expect(err.message).toMatch(/container path ".*" is blocked for security reasons/);
  });

  it.each(['/workspace', '/home/user/project', '/data', '/tmp/x', '/opt/tools', '/etcetera', '/usr/share/data', '/var/lib/app'])('accepts the container path %s', async (target) => {
    await expect(only(`${allowed}:${target}`)).resolves.toMatchObject([{ target }]);
  });

  it('normalizes the container path', async () => {
    await expect(only(`${allowed}://workspace//sub/./`)).resolves.toMatchObject([{ target: '/workspace/sub' }]);
  });

  it('accepts every allowed mount option and keeps their order, without ro/rw', async () => {
    for (const option of ALLOWED_MOUNT_OPTIONS) await expect(only(`${allowed}:/w:${option}`), option).resolves.toHaveLength(1);
    await expect(only(`${allowed}:/w:nosuid,rw,nodev,z`)).resolves.toMatchObject([{ readOnly: false, options: ['nosuid', 'nodev', 'z'] }]);
  });

  it.each(['exec', 'suid', 'dev', 'bind', 'rbind', 'O', 'idmap', 'RO', 'ro,', ',ro', 'ro,,z'])('refuses the mount options %j', async (optionText) => {
    const err = await refusal(only(`${allowed}:/w:${optionText}`));
    expect(err.reason).toBe(WorkspaceReasons.InvalidVolume);
    expect(err.message).toMatch(/mount option ".*" is not allowed/);
  });

  it('refuses repeated and contradictory options', async () => {
    expect((await refusal(only(`${allowed}:/w:ro,ro`))).message).toContain('repeats');
    expect((await refusal(only(`${allowed}:/w:ro,rw`))).message).toContain('both ro and rw');
  });

  it('refuses the whole list at the first bad volume, checking formats before touching the disk', async () => {
    const err = await refusal(validateVolumes([`${allowed}:/a`, `${outside}:/b`], { allowedPaths: [allowed] }));
    expect(err.details).toEqual({ volume: `${outside}:/b` });
    const formatFirst = await refusal(validateVolumes([`${outside}:/a`, 'bad'], { allowedPaths: [allowed] }));
    expect(formatFirst.reason).toBe(WorkspaceReasons.InvalidVolume);
  });

  it('ignores relative, traversing and unresolvable allowlist entries (they allow nothing)', async () => {
    for (const entry of ['allowed', '.', `${allowed}/../outside`, `${allowed}/loop-a`]) {
      expect((await refusal(only(`${outside}:/w`, [entry]))).reason, entry).toBe(WorkspaceReasons.VolumeNotAllowed);
    }
  });

  it('with allowAll skips the allowlist but keeps every other check', async () => {
    const allowAll = { allowedPaths: [], allowAll: true };
    await expect(validateVolumes([`${outside}:/w`], allowAll)).resolves.toMatchObject([{ source: outside }]);
    expect((await refusal(validateVolumes([`${outside}:/etc`], allowAll))).reason).toBe(WorkspaceReasons.InvalidVolume);
    expect((await refusal(validateVolumes([`${outside}:/w:exec`], allowAll))).reason).toBe(WorkspaceReasons.InvalidVolume);
    expect((await refusal(validateVolumes([`${allowed}/loop-a:/w`], allowAll))).reason).toBe(WorkspaceReasons.VolumeNotAllowed);
  });
});

describe('resolveHostPath', () => {
  it('resolves an existing path and the existing part of a missing one', async () => {
    await expect(resolveHostPath(`${allowed}/inner`)).resolves.toEqual({ resolved: `${allowed}/project`, exists: true });
    await expect(resolveHostPath(`${allowed}/inner/a/b`)).resolves.toEqual({ resolved: `${allowed}/project/a/b`, exists: false });
    await expect(resolveHostPath('/')).resolves.toEqual({ resolved: '/', exists: true });
  });
});

describe('isBlockedTarget', () => {
  it('blocks the listed paths, what is below them and what is above them', () => {
    expect(isBlockedTarget('/etc')).toBe(true);
    expect(isBlockedTarget('/etc/x')).toBe(true);
    expect(isBlockedTarget('/home')).toBe(true);
    expect(isBlockedTarget('/etcx')).toBe(false);
    expect(isBlockedTarget('/home/user/src')).toBe(false);
  });
});

describe('validateWorkdir', () => {
  it('treats an absent or empty workdir as not set', () => {
    expect(validateWorkdir(undefined)).toBeUndefined();
    expect(validateWorkdir('')).toBeUndefined();
  });

  it.each(['/workspace', '/home/user/my-project_1.2', '/'])('accepts %s unchanged', (workdir) => {
    expect(validateWorkdir(workdir)).toBe(workdir);
  });

  it.each([
    ['workspace', 'must be an absolute path'],
    ['/a b', 'invalid characters'],
    ['/a;rm -rf', 'invalid characters'],
    ['/$HOME', 'invalid characters'],
    ['/~', 'invalid characters'],
    ['/a\nb', 'invalid characters'],
    ['/a/../b', 'path traversal'],
    ['/a..b', 'path traversal'],
    [`/${'a'.repeat(4096)}`, 'too long'],
  ])('refuses %j: %s', (workdir, text) => {
    const err = syncRefusal(() => validateWorkdir(workdir));
    expect(err.reason).toBe(WorkspaceReasons.InvalidWorkdir);
    expect(err.code).toBe('INVALID_SPEC');
    expect(err.message).toMatch(/^workdir validation failed: /);
    expect(err.message).toContain(text);
  });
});

describe('normalizeImageName', () => {
  it.each([
    ['python:3.12', 'docker.io/library/python:3.12'],
    ['python', 'docker.io/library/python'],
    ['python@sha256:abc', 'docker.io/library/python@sha256:abc'],
    ['org/app:1', 'docker.io/org/app:1'],
    ['docker.io/python', 'docker.io/library/python'],
    ['index.docker.io/org/app', 'docker.io/org/app'],
    ['ghcr.io/org/app:1', 'ghcr.io/org/app:1'],
    ['localhost/stromboli/agent:latest', 'localhost/stromboli/agent:latest'],
    ['registry:5000/app', 'registry:5000/app'],
  ])('normalizes %s to %s', (image, normalized) => {
    expect(normalizeImageName(image)).toBe(normalized);
  });
});

describe('matchesImagePattern', () => {
  it.each([
    ['python:*', 'python:3.12', true],
    ['docker.io/library/*', 'docker.io/library/python:3.12', true],
    ['docker.io/*', 'docker.io/library/python', false], // * does not cross "/"
    ['docker.io/*/*', 'docker.io/library/python', true],
    ['python:3.1?', 'python:3.12', true],
    ['python:3.1?', 'python:3.1', false],
    ['python:3.[0-9]*', 'python:3.12', true],
    ['python:3.[^1]*', 'python:3.12', false],
    ['python:3.[^1]*', 'python:3.9', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'axb', false],
    ['python', 'python:3.12', false],
    ['ghcr.io/org/*', 'ghcr.io/org/app:1', true],
    ['[', 'x', false], // malformed: matches nothing
    ['[]', 'x', false],
    ['[a-]', 'a', false],
    ['[z-a]', 'm', false],
    ['x\\', 'x', false],
    ['a.b', 'axb', false], // "." is literal
  ])('%s matches %s: %s', (pattern, name, expected) => {
    expect(matchesImagePattern(pattern, name)).toBe(expected);
  });
});

describe('validateImage', () => {
  it('allows every valid image when there are no patterns', () => {
    expect(validateImage('anything/at:all', [])).toBe('anything/at:all');
  });

  it('returns the image as written when it matched as written', () => {
    expect(validateImage('python:3.12', ['python:*'])).toBe('python:3.12');
  });

  it('returns the normalized name when only that matched, so podman cannot pick another registry', () => {
    expect(validateImage('python:3.12', ['docker.io/library/*'])).toBe('docker.io/library/python:3.12');
  });

  it('refuses an image no pattern matches', () => {
    const err = syncRefusal(() => validateImage('evil/miner:latest', ['docker.io/library/*', 'python:*']));
    expect(err.reason).toBe(WorkspaceReasons.ImageNotAllowed);
    expect(err.code).toBe('FORBIDDEN');
    expect(err.message).toBe('image validation failed: image "evil/miner:latest" not in allowed patterns');
  });

  it.each(['--privileged', '-x', 'a b', '', 'a'.repeat(513)])('refuses the invalid reference %j', (image) => {
    const err = syncRefusal(() => validateImage(image, []));
    expect(err.reason).toBe(WorkspaceReasons.InvalidImage);
    expect(err.code).toBe('INVALID_SPEC');
  });

  it.each(['alpine:3.20', 'python:3.12-alpine', 'node:22-Alpine', 'gcr.io/distroless/base', 'scratch', 'busybox', 'busybox:1.36', 'docker.io/library/busybox:1'])(
    'refuses %s when the Claude CLI is mounted',
    (image) => {
      expect(isClaudeCliIncompatible(image)).toBe(true);
      const err = syncRefusal(() => validateImage(image, [], { mountClaudeCli: true }));
      expect(err.reason).toBe(WorkspaceReasons.ImageIncompatible);
      expect(err.message).toContain('incompatible with Claude CLI mount');
    },
  );

  it.each(['debian:bookworm-slim', 'python:3.12', 'ubuntu:24.04', 'localhost/stromboli/agent:latest'])('accepts %s when the Claude CLI is mounted', (image) => {
    expect(isClaudeCliIncompatible(image)).toBe(false);
    expect(validateImage(image, [], { mountClaudeCli: true })).toBe(image);
  });

  it('allows musl images when the CLI is not mounted (it is in the image)', () => {
    expect(validateImage('alpine:3.20', [])).toBe('alpine:3.20');
  });
});
