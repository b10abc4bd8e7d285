// The file store's state directory on disk (docs/file-store.md, "On disk"): one JSON record per
// run under resources/, store.json with the reserved resourceVersions, the lock file and tmp/.
// Memory is the store's business; this file only reads and writes those files.

import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { fsyncDirectory, writeFileAtomic } from './atomic-write.ts';
import type { ProblemReport } from './file-problems.ts';
import { issueText } from './file-problems.ts';
import type { FileStoreSettings } from './file-store-options.ts';
import { ifMissing } from './fs-errors.ts';
import { newResource, StringMapSchema, toRfc3339 } from '../../../../contract/store/object-rules.ts';
import type { ObjectMeta, Resource, ResourceRef } from '../../../../contract/store/store.ts';
import { keyOf } from '../../../../contract/store/store.ts';

/** `<name>.json` must fit in a 255-byte file name, so names are shorter than Kubernetes' 253. */
export const MAX_NAME_LENGTH = 250;
/** resourceVersions are reserved on disk in blocks, so a restart never hands out one twice. */
const RESOURCE_VERSION_BLOCK = 1000;

/** One resource as kept in memory and in stateDir/resources/<namespace>/<name>.json. */
export interface StoredRecord<S> {
  object: Resource<S>;
  /** Path relative to runsDir of the manifest that declares it; undefined for API-created runs. */
  manifest: string | undefined;
  /** Canonical hash of the manifest's spec when it was last applied; a change replaces the spec. */
  manifestSpecHash: string | undefined;
}

/** Creates stateDir (mode 0700) with its resources/ folder; done before taking the lock, which lives in it. */
export async function createStateDir(stateDir: string): Promise<void> {
  await mkdir(join(stateDir, 'resources'), { recursive: true, mode: 0o700 });
}

/** The pid lock file of a state directory. */
export function stateLockPath(stateDir: string): string {
  return join(stateDir, 'lock.pid');
}

/**
 * A record for a run that is new to the store, from create() or from a manifest document (then
 * `manifest` names the file and the spec's hash). Its resourceVersion is set when it is saved.
 */
export function newRecord<S>(
  s: FileStoreSettings<S>,
  from: { namespace: string; name: string; labels: Record<string, string> | undefined; annotations: Record<string, string> | undefined; spec: unknown },
  manifest?: { rel: string; specHash: string },
): StoredRecord<S> {
  const { namespace, name, labels, annotations, spec } = from;
  const object = newResource<S>({ apiVersion: s.apiVersion, kind: s.kind, namespace, name, labels, annotations, spec, resourceVersion: '', creationTimestamp: toRfc3339(new Date()) });
  return { object, manifest: manifest?.rel, manifestSpecHash: manifest?.specHash };
}

/**
 * The records and the resourceVersion counter of one state directory. Not safe for concurrent
 * calls: the store serialises every write.
 */
export class StateRecords<S> {
  readonly #s: FileStoreSettings<S>;
  readonly #problems: ProblemReport;
  #resourceVersion = 0;
  #resourceVersionReserved = 0;

  constructor(settings: FileStoreSettings<S>, problems: ProblemReport) {
    this.#s = settings;
    this.#problems = problems;
  }

  /**
   * Empties tmp/, then reads store.json and every record (by key). An unreadable file is
   * reported and skipped; a status that parseStatus rejects is dropped with a warning.
   */
  async load(): Promise<Map<string, StoredRecord<S>>> {
    const s = this.#s;
    await rm(join(s.stateDir, 'tmp'), { recursive: true, force: true });
    await mkdir(join(s.stateDir, 'tmp'), { mode: 0o700 });
    const records = new Map<string, StoredRecord<S>>();
    const storeFile = await readFile(join(s.stateDir, 'store.json'), 'utf8').catch(ifMissing(undefined));
    if (storeFile !== undefined) {
      const parsed = StoreFileSchema.safeParse(parseJson(storeFile));
      if (parsed.success) this.#resourceVersionReserved = parsed.data.resourceVersionReserved;
      else this.#problems.addState(join(s.stateDir, 'store.json'), 'unreadable; resourceVersions continue from the records');
    }
    const resources = join(s.stateDir, 'resources');
    for (const namespace of await readdir(resources, { withFileTypes: true })) {
      if (!namespace.isDirectory()) continue;
      for (const file of await readdir(join(resources, namespace.name), { withFileTypes: true })) {
        if (!file.isFile() || !file.name.endsWith('.json')) continue;
        const path = join(resources, namespace.name, file.name);
        const record = this.#parseRecord(await readFile(path, 'utf8'), path);
        if (record === undefined) continue;
        if (keyOf(record.object.metadata) !== `${namespace.name}/${file.name.slice(0, -'.json'.length)}`) {
          this.#problems.addState(path, 'the record names another object than its path; ignored');
          continue;
        }
        records.set(keyOf(record.object.metadata), record);
        const version = Number(record.object.metadata.resourceVersion);
        if (Number.isSafeInteger(version)) this.#resourceVersion = Math.max(this.#resourceVersion, version);
      }
    }
    this.#resourceVersion = Math.max(this.#resourceVersion, this.#resourceVersionReserved);
    this.#resourceVersionReserved = this.#resourceVersion; // the next write reserves a fresh block
    return records;
  }

  /** The next resourceVersion; reserves a new block in store.json first when the current one is used up. */
  async nextResourceVersion(): Promise<string> {
    this.#resourceVersion += 1;
    if (this.#resourceVersion > this.#resourceVersionReserved) {
      const reserved = this.#resourceVersion + RESOURCE_VERSION_BLOCK - 1;
      const body = `${JSON.stringify({ format: 1, resourceVersionReserved: reserved })}\n`;
      await writeFileAtomic(join(this.#s.stateDir, 'store.json'), body, join(this.#s.stateDir, 'tmp'));
      this.#resourceVersionReserved = reserved;
    }
    return String(this.#resourceVersion);
  }

  /** Writes the record atomically; once it resolves, the record survives a crash. */
  async write(record: StoredRecord<S>): Promise<void> {
    const body = { format: 1, manifest: record.manifest, manifestSpecHash: record.manifestSpecHash, object: record.object };
    await writeFileAtomic(this.#recordPath(record.object.metadata), `${JSON.stringify(body, null, 2)}\n`, join(this.#s.stateDir, 'tmp'));
  }

  /** Removes the record of `ref` durably; no error if it is already gone. */
  async erase(ref: ResourceRef): Promise<void> {
    const path = this.#recordPath(ref);
    await rm(path, { force: true });
    await fsyncDirectory(dirname(path));
  }

  #recordPath(ref: ResourceRef): string {
    return join(this.#s.stateDir, 'resources', ref.namespace, `${ref.name}.json`);
  }

  #parseRecord(text: string, path: string): StoredRecord<S> | undefined {
    const parsed = RecordFileSchema.safeParse(parseJson(text));
    if (!parsed.success) {
      this.#problems.addState(path, `unreadable state record (${issueText(parsed.error)}); ignored`);
      return undefined;
    }
    const { object, manifest, manifestSpecHash } = parsed.data;
    const metadata: ObjectMeta = { ...object.metadata };
    if (metadata.finalizers?.length === 0) delete metadata.finalizers;
    const result: Resource<S> = { apiVersion: object.apiVersion, kind: object.kind, metadata, spec: object.spec };
    if (object.status !== undefined) {
      try {
        result.status = this.#s.parseStatus(object.status);
      } catch (err) {
        this.#s.log.warn({ err, path }, 'stored status rejected; dropped');
      }
    }
    return { object: result, manifest, manifestSpecHash };
  }
}

const ObjectMetaSchema = z.object({
  name: z.string(),
  namespace: z.string(),
  uid: z.string(),
  generation: z.number().int().positive(),
  resourceVersion: z.string(),
  creationTimestamp: z.string(),
  deletionTimestamp: z.string().exactOptional(),
  finalizers: z.array(z.string()).exactOptional(),
  labels: StringMapSchema.exactOptional(),
  annotations: StringMapSchema.exactOptional(),
});

const RecordFileSchema = z.object({
  format: z.literal(1),
  manifest: z.string().optional(),
  manifestSpecHash: z.string().optional(),
  object: z.object({ apiVersion: z.string(), kind: z.string(), metadata: ObjectMetaSchema, spec: z.unknown().optional(), status: z.unknown().optional() }),
});

const StoreFileSchema = z.object({ format: z.literal(1), resourceVersionReserved: z.number().int().nonnegative() });

function parseJson(text: string): unknown {
  try {
    const value: unknown = JSON.parse(text);
    return value;
  } catch {
    return undefined;
  }
}
