// Makes the runs match the manifests of runsDir: which file owns a name, what a spec change
// does to a patched run, when a run is handed over or deleted (docs/file-store.md, "Manifests"
// and "Deletion"). The store feeds it changed files; it writes through the store's host calls.

import { join } from 'node:path';
import { canonicalHash, canonicalJson } from '../../../../contract/store/canonical-json.ts';
import type { FileProblem, ProblemReport } from './file-problems.ts';
import { errorText } from './file-problems.ts';
import type { FileStoreSettings } from './file-store-options.ts';
import type { ManifestDoc, ManifestRead } from './manifest-file.ts';
import { readManifest } from './manifest-file.ts';
import { compareStrings, copyOf } from '../../../../contract/store/object-list.ts';
import type { ManifestFileMark, StoredRecord } from './state-records.ts';
import { newRecord } from './state-records.ts';
import type { Resource } from '../../../../contract/store/store.ts';
import { keyOf } from '../../../../contract/store/store.ts';

/** Manifest files read (synchronously) before the event loop gets a turn. */
const READS_PER_TURN = 200;

/** What a batch left for later: files that read as missing or broken, names declared twice. */
export interface Unsettled {
  files: string[];
  keys: string[];
}

/** What ManifestSync needs from the store: its records, its problem report and its two writes. */
export interface ManifestSyncHost<S> {
  settings: FileStoreSettings<S>;
  /** The newest state of every record, writes still on their way to disk included: what the next write builds on. */
  records: ReadonlyMap<string, StoredRecord<S>>;
  problems: ProblemReport;
  /** Queues the write at once (the next write sees it), resolves once durable, then publishes `event` (none: persist only). */
  save(record: StoredRecord<S>, event: 'ADDED' | 'MODIFIED' | undefined): Promise<Resource<S>>;
  /** Deletes the run, or sets its deletionTimestamp while finalizers remain. */
  requestDeletion(record: StoredRecord<S>): Promise<void>;
}

/**
 * The manifest side of FileStore: the last good parse of every file, and the rules that turn a
 * batch of changed files into creates, updates, hand-overs and deletions. processFiles calls run
 * one at a time (the store's serial queue); syncKey decides and queues its write in one step.
 */
export class ManifestSync<S> {
  readonly #host: ManifestSyncHost<S>;
  /** Last good parse of each manifest file (relative path → key → document). */
  readonly #manifests = new Map<string, Map<string, ManifestDoc>>();
  /** Which files declare each name (key → relative paths): the candidates of syncKey without a scan. */
  readonly #declaredBy = new Map<string, Set<string>>();
  /** Files that exist but cannot be read or parsed: their runs keep their last good spec. */
  readonly #brokenFiles = new Set<string>();

  constructor(host: ManifestSyncHost<S>) {
    this.#host = host;
  }

  /** Relative paths of every file that has declared a run: what a removed folder may have held. */
  knownManifests(): Set<string> {
    const known = new Set(this.#manifests.keys());
    for (const record of this.#host.records.values()) if (record.manifest !== undefined) known.add(record.manifest);
    return known;
  }

  /**
   * Reads every file of the batch first, then syncs each affected name: a rename is a move, not
   * delete + create. Unless `confirmed`, a file that reads as missing or broken is left as it was
   * (it may be half-written, or half of a rename), and a name declared by several files or by
   * none any more is not synced yet: both are returned, for the store to process again,
   * confirmed, once runsDir has been quiet for a while. So creates and updates apply at once,
   * and nothing is deleted or reported on the strength of a file caught mid-write.
   */
  async processFiles(rels: Iterable<string>, confirmed: boolean): Promise<Unsettled> {
    const { settings: s, problems } = this.#host;
    const batch = [...new Set(rels)];
    const ownedBy = this.#recordKeysByManifest(new Set(batch));
    const reads = new Map<string, ManifestRead>();
    for (const [index, rel] of batch.entries()) {
      reads.set(rel, readManifest(join(s.runsDir, rel), join(s.runsDirShown, rel), s, (hash) => this.#knownDocs(hash, ownedBy.get(rel) ?? [])));
      if (index % READS_PER_TURN === READS_PER_TURN - 1) await new Promise(setImmediate); // let the API answer in between
    }
    const keys = new Set<string>();
    const unsettled: Unsettled = { files: [], keys: [] };
    for (const rel of batch) {
      const read = reads.get(rel) ?? { state: 'missing' };
      if (!confirmed && read.state !== 'ok') {
        unsettled.files.push(rel);
        continue;
      }
      for (const key of this.#manifests.get(rel)?.keys() ?? []) keys.add(key);
      for (const key of ownedBy.get(rel) ?? []) keys.add(key);
      if (read.state === 'missing') {
        this.#setDocs(rel, undefined);
        this.#brokenFiles.delete(rel);
        problems.setFile(rel, []);
        continue;
      }
      if (read.state === 'broken') {
        this.#brokenFiles.add(rel); // its runs keep the last good spec until the file is fixed
        problems.setFile(rel, [{ path: join(s.runsDirShown, rel), error: read.error }]);
        continue;
      }
      this.#brokenFiles.delete(rel);
      problems.setFile(rel, read.problems);
      const docs = new Map(read.docs.map((doc) => [keyOf(doc), doc]));
      this.#setDocs(rel, docs);
      for (const key of docs.keys()) keys.add(key);
    }
    const ready: string[] = [];
    for (const key of [...keys].sort()) {
      // A name in two files, or a run no file declares any more (a truncated file being rewritten?), waits for the quiet read.
      const declared = this.#declaredBy.get(key)?.size ?? 0;
      const dropped = declared === 0 && this.#host.records.get(key)?.manifest !== undefined;
      if (!confirmed && (declared > 1 || dropped)) unsettled.keys.push(key);
      else ready.push(key);
    }
    // Names are independent: their writes go out together (the store groups them into one commit).
    await Promise.all(ready.map((key) => this.syncKey(key)));
    return unsettled;
  }

  /** Makes one name match the manifests: create, update, hand over to another file, or delete. */
  async syncKey(key: string): Promise<void> {
    const s = this.#host.settings;
    const candidates = [...(this.#declaredBy.get(key) ?? [])]
      .sort(compareStrings)
      .flatMap((rel) => {
        const doc = this.#manifests.get(rel)?.get(key);
        return doc === undefined ? [] : [{ rel, doc }];
      });
    const record = this.#host.records.get(key);
    let owner: { rel: string; doc: ManifestDoc } | undefined;
    let reason: string;
    if (record !== undefined && record.manifest === undefined) {
      reason = 'already exists (created through the API)';
    } else if (record?.object.metadata.deletionTimestamp !== undefined) {
      reason = 'waits: the run of this name is being deleted and goes once its finalizers are removed';
    } else {
      const held = record?.manifest !== undefined && this.#brokenFiles.has(record.manifest) && !candidates.some((c) => c.rel === record.manifest);
      owner = held ? undefined : (candidates.find((c) => c.rel === record?.manifest) ?? candidates[0]);
      const winner = held ? record?.manifest : owner?.rel;
      reason = `is also declared in ${join(s.runsDirShown, winner ?? '')}, which wins`;
      try {
        if (owner !== undefined) await this.#applyManifest(record, owner.rel, owner.doc);
        else if (record !== undefined && !held) await this.#host.requestDeletion(record);
      } catch (err) {
        // Never stops the other runs: the next change to the file retries.
        s.log.warn({ err, agentRun: key }, 'manifest could not be applied');
        reason = `could not be applied: ${errorText(err)}`;
        owner = undefined;
      }
    }
    const problems = candidates
      .filter((c) => c !== owner)
      .map((c): FileProblem => ({ path: join(s.runsDirShown, c.rel), document: c.doc.document, error: `${key} ${reason}` }));
    this.#host.problems.setKey(key, problems);
  }

  /** Replaces the last good parse of `rel` (undefined: the file is gone) and the index of who declares each name. */
  #setDocs(rel: string, docs: Map<string, ManifestDoc> | undefined): void {
    for (const key of this.#manifests.get(rel)?.keys() ?? []) {
      const files = this.#declaredBy.get(key);
      files?.delete(rel);
      if (files?.size === 0) this.#declaredBy.delete(key);
    }
    if (docs === undefined) {
      this.#manifests.delete(rel);
      return;
    }
    this.#manifests.set(rel, docs);
    for (const key of docs.keys()) {
      const files = this.#declaredBy.get(key) ?? new Set<string>();
      files.add(rel);
      this.#declaredBy.set(key, files);
    }
  }

  /**
   * The documents of a file whose bytes hash to `hash`, rebuilt from its runs (`keys`) without
   * parsing it: only when every run remembers a clean read of these very bytes, they are all of
   * the file's documents, none is being deleted, and each holds the file's own spec (no API
   * patch in force). Anything else: undefined, and the file is parsed.
   */
  #knownDocs(hash: string, keys: readonly string[]): ManifestDoc[] | undefined {
    const docs: ManifestDoc[] = [];
    for (const key of keys) {
      const record = this.#host.records.get(key);
      const mark = record?.manifestFile;
      if (record === undefined || mark?.hash !== hash || mark.documents !== keys.length || record.object.metadata.deletionTimestamp !== undefined) return undefined;
      if (record.manifestSpecHash === undefined || canonicalHash(record.object.spec) !== record.manifestSpecHash) return undefined;
      const { namespace, name, labels, annotations } = record.object.metadata;
      docs.push({ namespace, name, labels: copyOf(labels), annotations: copyOf(annotations), spec: copyOf(record.object.spec), specHash: record.manifestSpecHash, document: mark.document, file: mark });
    }
    return docs.length === 0 ? undefined : docs.sort((a, b) => a.document - b.document);
  }

  /** The names of the runs each of `rels` declared last, in one pass over the records. */
  #recordKeysByManifest(rels: ReadonlySet<string>): Map<string, string[]> {
    const byManifest = new Map<string, string[]>();
    for (const [key, record] of this.#host.records) {
      if (record.manifest === undefined || !rels.has(record.manifest)) continue;
      const keys = byManifest.get(record.manifest) ?? [];
      keys.push(key);
      byManifest.set(record.manifest, keys);
    }
    return byManifest;
  }

  async #applyManifest(record: StoredRecord<S> | undefined, rel: string, doc: ManifestDoc): Promise<void> {
    const host = this.#host;
    if (record === undefined) {
      await host.save(newRecord(host.settings, { ...doc, spec: copyOf(doc.spec) }, { rel, specHash: doc.specHash, file: doc.file }), 'ADDED');
      host.settings.log.info({ agentRun: keyOf(doc), path: join(host.settings.runsDirShown, rel) }, 'run added from manifest');
      return;
    }
    const next = copyOf(record);
    let changed = false;
    if (doc.specHash !== record.manifestSpecHash) {
      // The file's spec changed: it replaces the stored spec, dropping any patch made through the API.
      if (canonicalJson(doc.spec) !== canonicalJson(record.object.spec)) {
        next.object.spec = copyOf(doc.spec);
        next.object.metadata.generation += 1;
        changed = true;
      }
      next.manifestSpecHash = doc.specHash;
    }
    for (const field of ['labels', 'annotations'] as const) {
      if (canonicalJson(doc[field] ?? {}) === canonicalJson(record.object.metadata[field] ?? {})) continue;
      const value = doc[field];
      if (value === undefined) delete next.object.metadata[field];
      else next.object.metadata[field] = { ...value };
      changed = true;
    }
    next.manifest = rel;
    next.manifestFile = doc.file;
    if (changed) await host.save(next, 'MODIFIED');
    else if (next.manifest !== record.manifest || next.manifestSpecHash !== record.manifestSpecHash || !sameMark(next.manifestFile, record.manifestFile)) await host.save(next, undefined);
  }
}

function sameMark(a: ManifestFileMark | undefined, b: ManifestFileMark | undefined): boolean {
  return a?.hash === b?.hash && a?.documents === b?.documents && a?.document === b?.document;
}
