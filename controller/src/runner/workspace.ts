// Host-facing checks of a run's spec before anything starts (reference §8): volumes against the
// host-path allowlist (deny by default, symlinks resolved), container mount targets against a
// blocklist, mount options against an allowlist, the workdir's shape, and the image against the
// allowed patterns. Every refusal is a TerminalError: retrying cannot make a path allowed.
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { TerminalError } from '../../../contract/errors.ts';
import { Reasons } from '../../../contract/apis/v1alpha1/conditions.ts';
import { compact } from '../../../contract/compact.ts';

/** Reasons recorded on the run's Succeeded condition for each kind of refusal (the one list lives in conditions.ts). */
export const WorkspaceReasons = {
  /** The host path is outside the allowlist, or cannot be resolved safely. */
  VolumeNotAllowed: Reasons.VolumeNotAllowed,
  /** The volume string is malformed, relative, traverses with "..", targets a blocked path or has a bad option. */
  InvalidVolume: Reasons.InvalidVolume,
  InvalidWorkdir: Reasons.InvalidWorkdir,
  InvalidImage: Reasons.InvalidImage,
  ImageNotAllowed: Reasons.ImageNotAllowed,
  /** A musl or shell-less image cannot run the mounted glibc Claude CLI. */
  ImageIncompatible: Reasons.ImageIncompatible,
} as const;

/**
 * Container paths no volume may be mounted at or below (Stromboli's list): credentials and shell
 * start-up files in the HOME, and system directories. Their ancestors are refused too (see
 * isBlockedTarget), so `/home/user` itself or `/usr` cannot shadow them.
 */
export const BLOCKED_CONTAINER_PATHS: readonly string[] = [
  ...['.claude', '.ssh', '.gnupg', '.aws', '.docker', '.kube', '.config', '.local', '.netrc', '.git-credentials', '.password-store', '.bashrc', '.bash_profile', '.profile', '.zshrc'].map(
    (name) => `/home/user/${name}`,
  ),
  ...['/etc', '/root', '/bin', '/sbin', '/usr/bin', '/usr/sbin', '/usr/local/bin', '/lib', '/lib64', '/var/run', '/run', '/proc', '/sys', '/dev'],
];

/** Mount options a volume may carry (Stromboli's list). */
export const ALLOWED_MOUNT_OPTIONS: readonly string[] = ['ro', 'rw', 'z', 'Z', 'noexec', 'nosuid', 'nodev', 'rslave', 'rprivate', 'rshared', 'slave', 'private', 'shared', 'nocopy', 'copy', 'U'];

const MAX_PATH = 4096;

/** A validated volume, ready for PodmanRunSpec.mounts. */
export interface VolumeMount {
  /** The host path with every symlink resolved: what was checked is what gets mounted. */
  source: string;
  /** The normalized container path. */
  target: string;
  /** True when the options had `ro` (podman's default is read-write). */
  readOnly: boolean;
  /** The other options, in the given order, without `ro`/`rw`. */
  options: string[];
  /** False when the host path does not exist yet (the runner may create it). */
  exists: boolean;
  /** The volume string as written in the spec. */
  volume: string;
}

/** The host policy for volumes, from the controller's configuration. */
export interface ValidateVolumesOptions {
  /** Absolute host paths volumes may come from (the path itself or below). Relative entries match nothing. Empty refuses every volume. */
  allowedPaths: readonly string[];
  /** Stromboli's allow_all_volumes: skip the allowlist (every other check still applies). Default: false. */
  allowAll?: boolean | undefined;
}

function invalidVolume(volume: string, message: string): TerminalError {
  return new TerminalError(WorkspaceReasons.InvalidVolume, `volume validation failed: ${message}`, { code: 'FORBIDDEN_PATH', details: { volume } });
}

function volumeNotAllowed(volume: string, message: string, cause?: unknown): TerminalError {
  return new TerminalError(WorkspaceReasons.VolumeNotAllowed, `volume validation failed: ${message}`, {
    code: 'FORBIDDEN_PATH',
    details: { volume },
    ...compact({ cause }),
  });
}

function hasTraversal(p: string): boolean {
  return p.split('/').includes('..');
}

/** "/a//b/./c/" → "/a/b/c"; the input is absolute and free of "..". */
function normalizeAbsolute(p: string): string {
  const normalized = path.posix.normalize(p);
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
}

function isAtOrBelow(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent === '/' ? '/' : `${parent}/`);
}

/** True when a mount at `target` would cover or shadow a blocked path. */
export function isBlockedTarget(target: string): boolean {
  return BLOCKED_CONTAINER_PATHS.some((blocked) => isAtOrBelow(target, blocked) || isAtOrBelow(blocked, target));
}

interface ParsedVolume {
  host: string;
  target: string;
  readOnly: boolean;
  options: string[];
}

/** The checks that need no filesystem: format, absolute paths, "..", blocklist, options. */
function parseVolume(volume: string): ParsedVolume {
  if (volume.includes('\0')) throw invalidVolume(volume, 'volume contains NUL');
  const parts = volume.split(':');
  const [host = '', target = '', optionText] = parts;
  if (parts.length < 2 || parts.length > 3 || host === '' || target === '' || optionText === '') {
    throw invalidVolume(volume, `invalid volume format "${volume}": expected host:container[:options]`);
  }
  if (!host.startsWith('/')) throw invalidVolume(volume, `host path "${host}" must be absolute (named volumes and relative paths are not supported)`);
  if (!target.startsWith('/')) throw invalidVolume(volume, `container path "${target}" must be absolute`);
  if (host.length > MAX_PATH || target.length > MAX_PATH) throw invalidVolume(volume, `volume paths are limited to ${MAX_PATH} characters`);
  if (hasTraversal(host) || hasTraversal(target)) throw invalidVolume(volume, `volume "${volume}" contains path traversal (..)`);
  const normalizedTarget = normalizeAbsolute(target);
  if (isBlockedTarget(normalizedTarget)) throw invalidVolume(volume, `container path "${normalizedTarget}" is blocked for security reasons`);
  const options = optionText === undefined ? [] : optionText.split(',');
  for (const option of options) {
    if (!ALLOWED_MOUNT_OPTIONS.includes(option)) throw invalidVolume(volume, `mount option "${option}" is not allowed`);
  }
  if (new Set(options).size !== options.length) throw invalidVolume(volume, `volume "${volume}" repeats a mount option`);
  if (options.includes('ro') && options.includes('rw')) throw invalidVolume(volume, `volume "${volume}" is both ro and rw`);
  return {
    host: normalizeAbsolute(host),
    target: normalizedTarget,
    readOnly: options.includes('ro'),
    options: options.filter((option) => option !== 'ro' && option !== 'rw'),
  };
}

function errorCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
}

/**
 * Why: an allowlist check on an unresolved path is defeated by a symlink. Resolves every symlink;
 * for a path that does not exist yet, resolves its nearest existing ancestor and appends the
 * missing segments (which, not existing, hold no symlink). Any error other than "does not exist"
 * (a loop, no permission, a file used as a directory) is thrown: the caller refuses.
 */
export async function resolveHostPath(absolutePath: string): Promise<{ resolved: string; exists: boolean }> {
  const missing: string[] = [];
  let current = normalizeAbsolute(absolutePath);
  for (;;) {
    try {
      const real = await realpath(current);
      return { resolved: path.posix.join(real, ...missing.reverse()), exists: missing.length === 0 };
    } catch (err) {
      if (errorCode(err) !== 'ENOENT' || current === '/') throw err;
      missing.push(path.posix.basename(current));
      current = path.posix.dirname(current);
    }
  }
}

/**
 * Why: a volume is the one way a run reaches the host filesystem. Checks each "host:container[:opts]"
 * and returns the mounts to use, or throws a TerminalError (reason InvalidVolume or
 * VolumeNotAllowed, code FORBIDDEN_PATH) for the first refused volume. Deny by default.
 */
export async function validateVolumes(volumes: readonly string[], options: ValidateVolumesOptions): Promise<VolumeMount[]> {
  const parsed = volumes.map((volume) => ({ volume, ...parseVolume(volume) }));
  if (parsed.length === 0) return [];
  const allowAll = options.allowAll === true;
  const first = parsed[0];
  if (!allowAll && options.allowedPaths.length === 0 && first !== undefined) {
    throw volumeNotAllowed(first.volume, `volume host path not allowed: "${first.host}" (no volume allowlist is configured)`);
  }
  const allowed: string[] = [];
  if (!allowAll) {
    for (const entry of options.allowedPaths) {
      if (!entry.startsWith('/') || hasTraversal(entry)) continue;
      try {
        allowed.push((await resolveHostPath(entry)).resolved);
      } catch {
        // An allowlist entry we cannot resolve allows nothing (fail closed).
      }
    }
  }
  const mounts: VolumeMount[] = [];
  for (const { volume, host, target, readOnly, options: mountOptions } of parsed) {
    let resolved: { resolved: string; exists: boolean };
    try {
      resolved = await resolveHostPath(host);
    } catch (err) {
      throw volumeNotAllowed(volume, `volume host path not allowed: "${host}" cannot be resolved`, err);
    }
    if (!allowAll && !allowed.some((entry) => isAtOrBelow(resolved.resolved, entry))) {
      // The resolved path stays out of the message: it would tell a client where a symlink points.
      throw volumeNotAllowed(volume, `volume host path not allowed: "${host}" is outside the volume allowlist once symlinks are resolved`);
    }
    mounts.push({ source: resolved.resolved, target, readOnly, options: mountOptions, exists: resolved.exists, volume });
  }
  return mounts;
}

function invalidWorkdir(workdir: string, message: string): TerminalError {
  return new TerminalError(WorkspaceReasons.InvalidWorkdir, `workdir validation failed: ${message}`, { code: 'INVALID_SPEC', details: { workdir } });
}

/**
 * Why: the workdir ends up in `-w` and in a `mkdir -p` inside the container. Stromboli's rules:
 * empty means "not set" (returns undefined); otherwise absolute, at most 4096 characters, only
 * letters, digits, "/", "_", "." and "-", and no ".." anywhere. Returns the workdir unchanged.
 */
export function validateWorkdir(workdir: string | undefined): string | undefined {
  if (workdir === undefined || workdir === '') return undefined;
  if (workdir.length > MAX_PATH) throw invalidWorkdir(workdir, `workdir path too long (max ${MAX_PATH} characters)`);
  if (!workdir.startsWith('/')) throw invalidWorkdir(workdir, 'workdir must be an absolute path starting with /');
  if (!/^[a-zA-Z0-9/_.-]+$/.test(workdir)) throw invalidWorkdir(workdir, 'workdir contains invalid characters (only alphanumeric, /, _, ., - allowed)');
  if (workdir.includes('..')) throw invalidWorkdir(workdir, 'workdir cannot contain path traversal (..) sequences');
  return workdir;
}

const IMAGE_REF = /^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/;

/**
 * Why: Stromboli matches image patterns against the docker.io-normalized name too, so
 * "python:3.12" is checked as "docker.io/library/python:3.12". Adds no ":latest".
 */
export function normalizeImageName(image: string): string {
  const slash = image.indexOf('/');
  if (slash === -1) return `docker.io/library/${image}`;
  const domain = image.slice(0, slash);
  const rest = image.slice(slash + 1);
  if (!domain.includes('.') && !domain.includes(':') && domain !== 'localhost') return `docker.io/${image}`;
  if ((domain === 'docker.io' || domain === 'index.docker.io') && !rest.includes('/')) return `docker.io/library/${rest}`;
  return domain === 'index.docker.io' ? `docker.io/${rest}` : image;
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/**
 * Go's path.Match as a RegExp: `*` is any run of non-"/" characters, `?` one non-"/" character,
 * `[a-z]`/`[^a-z]` a class, `\` escapes. Returns undefined for a malformed pattern.
 */
function globToRegExp(pattern: string): RegExp | undefined {
  let out = '^';
  let i = 0;
  const escaped = (): string | undefined => {
    let c = pattern.charAt(i);
    if (c === '\\') {
      i += 1;
      c = pattern.charAt(i);
    } else if (c === '-' || c === ']') return undefined;
    if (i >= pattern.length) return undefined;
    i += 1;
    return c;
  };
  while (i < pattern.length) {
    const c = pattern.charAt(i);
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '\\') {
      i += 1;
      if (i >= pattern.length) return undefined;
      out += escapeRegExp(pattern.charAt(i));
    } else if (c === '[') {
      i += 1;
      const negate = pattern.charAt(i) === '^';
      if (negate) i += 1;
      let ranges = '';
      for (;;) {
        if (i >= pattern.length) return undefined;
        if (pattern.charAt(i) === ']' && ranges !== '') break;
        const lo = escaped();
        if (lo === undefined) return undefined;
        if (pattern.charAt(i) === '-') {
          i += 1;
          const hi = escaped();
          if (hi === undefined || hi < lo) return undefined;
          ranges += `${escapeRegExp(lo)}-${escapeRegExp(hi)}`;
        } else ranges += escapeRegExp(lo);
      }
      out += negate ? `[^${ranges}]` : `[${ranges}]`;
    } else out += escapeRegExp(c);
    i += 1;
  }
  return new RegExp(`${out}$`);
}

/** True when `name` matches the Go-style glob `pattern`; a malformed pattern matches nothing. */
export function matchesImagePattern(pattern: string, name: string): boolean {
  return globToRegExp(pattern)?.test(name) ?? false;
}

/** Images that cannot run the mounted glibc Claude CLI: musl (Alpine), distroless, scratch, busybox. */
export function isClaudeCliIncompatible(image: string): boolean {
  const lower = image.toLowerCase();
  const normalized = normalizeImageName(lower);
  const repository = (normalized.split('/').pop() ?? '').split(/[:@]/)[0] ?? '';
  return lower.includes('alpine') || normalized.startsWith('gcr.io/distroless/') || repository === 'scratch' || repository.startsWith('busybox');
}

/** How the image will be used, which narrows the images that can work. */
export interface ValidateImageOptions {
  /** The Claude CLI is mounted into the image (Stromboli's mount_claude_cli): refuse musl and shell-less images. Default: false. */
  mountClaudeCli?: boolean | undefined;
}

function imageError(reason: string, image: string, message: string): TerminalError {
  const code = reason === WorkspaceReasons.ImageNotAllowed ? 'FORBIDDEN' : 'INVALID_SPEC';
  return new TerminalError(reason, `image validation failed: ${message}`, { code, details: { image } });
}

/**
 * Why: the image decides what runs. Empty `allowedPatterns` allows every image (Stromboli's rule).
 * Returns the reference to give podman: the image as written when it matched as written,
 * otherwise its normalized name (so podman's short-name search cannot pick another registry
 * than the one the pattern approved). Throws a TerminalError (InvalidImage, ImageNotAllowed,
 * ImageIncompatible).
 */
export function validateImage(image: string, allowedPatterns: readonly string[], options: ValidateImageOptions = {}): string {
  if (image.length > 512 || !IMAGE_REF.test(image)) throw imageError(WorkspaceReasons.InvalidImage, image, `image "${image}" is not a valid image reference`);
  if (options.mountClaudeCli === true && isClaudeCliIncompatible(image)) {
    throw imageError(
      WorkspaceReasons.ImageIncompatible,
      image,
      `image "${image}" is incompatible with Claude CLI mount (Alpine/musl-based images not supported, use glibc-based alternatives like debian/slim)`,
    );
  }
  if (allowedPatterns.length === 0) return image;
  if (allowedPatterns.some((pattern) => matchesImagePattern(pattern, image))) return image;
  const normalized = normalizeImageName(image);
  if (allowedPatterns.some((pattern) => matchesImagePattern(pattern, normalized))) return normalized;
  throw imageError(WorkspaceReasons.ImageNotAllowed, image, `image "${image}" not in allowed patterns`);
}
