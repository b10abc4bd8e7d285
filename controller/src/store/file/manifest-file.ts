// Reading one manifest file of runsDir into run documents, within the size and alias limits
// (docs/file-store.md, "Manifests"). The only place of the store that imports yaml.

import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { boundedMessage } from '../../../../contract/errors.ts';
import { canonicalHash, isPlainObject } from '../../../../contract/store/canonical-json.ts';
import type { FileProblem } from './file-problems.ts';
import { errorText, issueText } from './file-problems.ts';
import type { FileStoreSettings } from './file-store-options.ts';
import { isErrno } from './fs-errors.ts';
import { refProblem, StringMapSchema } from '../../../../contract/store/object-rules.ts';
import type { ManifestFileMark } from './state-records.ts';
import { MAX_NAME_LENGTH } from './state-records.ts';
import { keyOf } from '../../../../contract/store/store.ts';

/** Which files of runsDir are manifests: *.yaml and *.yml, any case. */
export const MANIFEST_FILE = /\.ya?ml$/i;
/** yaml's guard against alias bombs ("billion laughs"); the library default, stated here on purpose. */
const MAX_ALIAS_COUNT = 100;
/** A document whose value, aliases expanded, is over this many times maxFileBytes is refused. */
const EXPANSION_FACTOR = 4;
/**
 * Part of every file hash, with the settings that change what a file means: bump it whenever
 * parseManifest's rules change, so a file read clean by older rules is parsed again.
 */
const PARSE_RULES = 'manifest-rules-1';

/** One usable run document of a manifest file. */
export interface ManifestDoc {
  namespace: string;
  name: string;
  labels: Record<string, string> | undefined;
  annotations: Record<string, string> | undefined;
  spec: unknown;
  /** canonicalHash of spec: compared with the record's manifestSpecHash to see a spec change. */
  specHash: string;
  /** 1-based position in the file, for problems. */
  document: number;
  /** The file's hash, document count and this document's position; undefined when the file had a problem (it is then always parsed). */
  file: ManifestFileMark | undefined;
}

/**
 * The outcome of reading one file: gone (its runs are deleted), broken as a whole (its runs keep
 * their last good spec), or read, with the documents that were not usable as problems.
 */
export type ManifestRead =
  | { state: 'missing' }
  | { state: 'broken'; error: string }
  | { state: 'ok'; docs: ManifestDoc[]; problems: FileProblem[] };

/**
 * Reads at most maxFileBytes of `path` and parses it; `shown` is the path problems carry. Never
 * throws for the file's content. `known` may answer, from the sha256 of the bytes read, the
 * documents a clean earlier read of the same bytes gave: then the file is not parsed again. The read is synchronous: four system calls on a small local
 * file cost far less than four trips through libuv's thread pool, which dominated a start over
 * thousands of manifests. O_NONBLOCK keeps a FIFO dropped into runsDir from blocking the open.
 */
export function readManifest<S>(path: string, shown: string, s: FileStoreSettings<S>, known?: (hash: string) => ManifestDoc[] | undefined): ManifestRead {
  let text: string;
  let hash: string;
  try {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const info = fstatSync(fd);
      if (!info.isFile()) return { state: 'missing' };
      if (info.size > s.maxFileBytes) return { state: 'broken', error: `the file is ${info.size} bytes, over the ${s.maxFileBytes}-byte limit` };
      // A buffer of the size stat saw, plus one byte to notice a file that grew since (then read again up to the limit).
      let buffer = Buffer.allocUnsafe(info.size + 1);
      let bytesRead = readSync(fd, buffer, 0, buffer.length, 0);
      if (bytesRead === buffer.length) {
        buffer = Buffer.allocUnsafe(s.maxFileBytes + 1);
        bytesRead = readSync(fd, buffer, 0, buffer.length, 0);
      }
      if (bytesRead > s.maxFileBytes) return { state: 'broken', error: `the file is over the ${s.maxFileBytes}-byte limit` };
      const bytes = buffer.subarray(0, bytesRead);
      hash = createHash('sha256').update(`${PARSE_RULES}\0${JSON.stringify([s.apiVersion, s.kind, s.defaultNamespace, s.maxFileBytes])}\0`).update(bytes).digest('hex');
      const docs = known?.(hash);
      if (docs !== undefined) return { state: 'ok', docs, problems: [] };
      text = bytes.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return { state: 'missing' };
    return { state: 'broken', error: `cannot read the file: ${errorText(err)}` };
  }
  const read = parseManifest(text, shown, s);
  if (read.state === 'ok' && read.problems.length === 0) {
    const documents = read.docs.length;
    for (const doc of read.docs) doc.file = { hash, documents, document: doc.document };
  }
  return read;
}

function parseManifest<S>(text: string, path: string, s: FileStoreSettings<S>): ManifestRead {
  const documents = parseAllDocuments(text, { prettyErrors: true });
  for (const [index, document] of documents.entries()) {
    const syntax = document.errors[0];
    if (syntax !== undefined) return { state: 'broken', error: `YAML error in document ${index + 1}: ${boundedMessage(syntax.message)}` };
  }
  const docs: ManifestDoc[] = [];
  const problems: FileProblem[] = [];
  const seen = new Set<string>();
  for (const [index, document] of documents.entries()) {
    const number = index + 1;
    let value: unknown;
    try {
      value = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      return { state: 'broken', error: `document ${number} cannot be loaded: ${errorText(err)}` };
    }
    const limit = EXPANSION_FACTOR * s.maxFileBytes;
    if (exceedsSize(value, limit)) return { state: 'broken', error: `document ${number} expands to more than ${limit} bytes (aliases)` };
    if (value === null || value === undefined) continue; // an empty document, e.g. after a trailing ---
    const problem = (error: string): void => {
      problems.push({ path, document: number, error });
    };
    if (!isPlainObject(value)) {
      problem('the document is not a mapping');
      continue;
    }
    if (value['apiVersion'] !== s.apiVersion || value['kind'] !== s.kind) {
      problems.push({ path, document: number, skipped: true, error: `skipped: kind ${showValue(value['kind'])} apiVersion ${showValue(value['apiVersion'])} is not ${s.kind} ${s.apiVersion}` });
      continue;
    }
    const metadata = ManifestMetadataSchema.safeParse(value['metadata']);
    if (!metadata.success) {
      problem(isPlainObject(value['metadata']) ? issueText(metadata.error, 'metadata') : 'metadata is required (a mapping with a name)');
      continue;
    }
    const ref = { namespace: metadata.data.namespace ?? s.defaultNamespace, name: metadata.data.name };
    const invalid = refProblem(ref, MAX_NAME_LENGTH);
    if (invalid !== undefined) {
      problem(invalid);
      continue;
    }
    if (seen.has(keyOf(ref))) {
      problem(`${keyOf(ref)} is declared twice in this file; the first one wins`);
      continue;
    }
    seen.add(keyOf(ref));
    const spec: unknown = JSON.parse(JSON.stringify(value['spec'] ?? {}));
    docs.push({ ...ref, labels: metadata.data.labels, annotations: metadata.data.annotations, spec, specHash: canonicalHash(spec), document: number, file: undefined });
  }
  return { state: 'ok', docs, problems };
}

const ManifestMetadataSchema = z.object({
  name: z.string({ error: 'required (a string)' }),
  namespace: z.string().exactOptional(),
  labels: StringMapSchema.exactOptional(),
  annotations: StringMapSchema.exactOptional(),
});

/** Walks the value as JSON would print it and stops as soon as it passes `limit` bytes. */
function exceedsSize(value: unknown, limit: number): boolean {
  let size = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === 'string') size += item.length + 2;
    else if (Array.isArray(item)) {
      size += 2 + item.length;
      stack.push(...item);
    } else if (isPlainObject(item)) {
      for (const [key, child] of Object.entries(item)) {
        size += key.length + 4;
        stack.push(child);
      }
    } else size += 8;
    if (size > limit) return true;
  }
  return false;
}

function showValue(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? 'undefined');
}
