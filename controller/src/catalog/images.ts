// Local images as the API shows them (Stromboli's image discovery): one row per name, ranked by
// how well it runs the Claude CLI. Only local storage is read; searching and pulling are the
// configured registry's (registry.ts).
import { ValidationError } from '../../../contract/errors.ts';
import type { CompatibilityRank, ImageInfo } from '../../../contract/catalog.ts';
import type { ImagePort } from '../../../contract/ports.ts';
import type { PodmanClient } from '../podman/client.ts';
import { DEFAULT_AGENT_IMAGE } from '../runner/podman-runner.ts';

export type { CompatibilityRank, ImageInfo };
import type { ImageSummary } from '../podman/parse.ts';
import { compact } from '../../../contract/compact.ts';

export interface ImageCatalogOptions {
  podman: Pick<PodmanClient, 'listImages'>;
  /** The image runs use when they name none; ranked 1. Default DEFAULT_AGENT_IMAGE. */
  agentImage?: string;
}

/** Image references the API accepts in a path: what podman accepts, never something read as a flag. */
export const IMAGE_REF_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/;
const MAX_IMAGE_REF_LENGTH = 512;
const INCOMPATIBLE = /(^|[/_.-])(alpine|distroless|busybox|scratch|musl)([/_.:-]|$)/i;
const AGENT_REPOSITORY = 'localhost/stromboli/agent';
const FAKE_REPOSITORY = 'localhost/stromboli/fake-claude';

/** Splits a name into repository and tag at the last ':' after the last '/'. */
export function splitImageName(name: string): { repository: string; tag: string } {
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > slash) return { repository: name.slice(0, colon), tag: name.slice(colon + 1) };
  return { repository: name, tag: 'latest' };
}

/** Throws ValidationError unless `ref` can name an image. */
export function checkImageRef(ref: string): void {
  if (ref.length === 0 || ref.length > MAX_IMAGE_REF_LENGTH || !IMAGE_REF_PATTERN.test(ref)) {
    throw new ValidationError('invalid image name', { details: { ref } });
  }
}

/** The rank of an image name: pure, from the name alone (podman's listing carries no labels here). */
export function rankImage(repository: string, tag: string, agentImage: string): Pick<ImageInfo, 'rank' | 'compatible' | 'hasClaudeCli' | 'description'> {
  const full = `${repository}:${tag}`;
  if (full === agentImage || repository === AGENT_REPOSITORY) return { rank: 1, compatible: true, hasClaudeCli: true, description: 'Stromboli agent image (Claude Code CLI)' };
  if (repository === FAKE_REPOSITORY) return { rank: 2, compatible: true, hasClaudeCli: true, description: 'Stromboli test image: a fake Claude CLI, no model behind it' };
  if (INCOMPATIBLE.test(repository)) return { rank: 4, compatible: false, hasClaudeCli: false };
  return { rank: 3, compatible: true, hasClaudeCli: false };
}

function toInfos(image: ImageSummary, agentImage: string): ImageInfo[] {
  const names = image.names.length === 0 ? [undefined] : image.names;
  return names.map((name) => {
    const { repository, tag } = name === undefined ? { repository: '<none>', tag: '<none>' } : splitImageName(name);
    return {
      id: image.id,
      repository,
      tag,
      sizeBytes: image.sizeBytes,
      ...compact({ created: image.createdAt }),
      ...rankImage(repository, tag, agentImage),
    };
  });
}

/** Whether `ref` names `info`: the full name, the name without a registry or with :latest implied, or an id prefix of 12+ characters. */
function matches(info: ImageInfo, ref: string): boolean {
  if (info.repository === '<none>') return ref.length >= 12 && info.id.startsWith(ref);
  const full = `${info.repository}:${info.tag}`;
  const candidates = ref.includes(':') && ref.lastIndexOf(':') > ref.lastIndexOf('/') ? [ref] : [`${ref}:latest`];
  if (candidates.some((c) => c === full || full.endsWith(`/${c}`))) return true;
  return /^[0-9a-f]{12,64}$/.test(ref) && info.id.startsWith(ref);
}

/** The API's view of local images. */
export class ImageCatalog implements ImagePort {
  readonly #podman: ImageCatalogOptions['podman'];
  readonly #agentImage: string;

  constructor(options: ImageCatalogOptions) {
    this.#podman = options.podman;
    this.#agentImage = options.agentImage ?? DEFAULT_AGENT_IMAGE;
  }

  /**
   * Every local image name once, best rank first, then by name. Podman lists a multi-tagged
   * image once per tag, each entry with all of its names: one entry per image id is kept.
   */
  async list(): Promise<ImageInfo[]> {
    const byId = new Map<string, ImageSummary>();
    for (const image of await this.#podman.listImages()) if (!byId.has(image.id)) byId.set(image.id, image);
    const infos = [...byId.values()].flatMap((image) => toInfos(image, this.#agentImage));
    return infos.sort((a, b) => a.rank - b.rank || compare(`${a.repository}:${a.tag}`, `${b.repository}:${b.tag}`) || compare(a.id, b.id));
  }

  /** The image `ref` names; undefined when none does. ValidationError for a malformed ref. */
  async get(ref: string): Promise<ImageInfo | undefined> {
    checkImageRef(ref);
    return (await this.list()).find((info) => matches(info, ref));
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
