// The native list's JSON body, built from each run's JSON cached by uid and resourceVersion: an
// object's resourceVersion changes on every write, so a cached text is that object's exact
// answer until then. Listing 10,000 runs used to encode and stringify every object on every
// request (the route's zod serializer); now it encodes only what changed since the last list and
// joins strings. The bytes are the serializer's: each item is encoded with the same schema and
// the envelope is written in the schema's key order (a test compares the two).
import { z } from 'zod';

/** A list answer's metadata, as kube-apiserver sends it when paging. */
export interface ListMetadata {
  continue?: string;
  remainingItemCount?: number;
}

/** The envelope's parts other than the items. */
export interface RunListParts {
  apiVersion: string;
  kind: string;
  /** Only in paged answers: an unpaged answer stays what it always was. */
  metadata?: ListMetadata;
  problems: Array<{ path: string; error: string }>;
}

export interface RunListJsonOptions {
  /** The schema of one item (the route's response schema for a run). */
  itemSchema: z.ZodType;
  metadataSchema: z.ZodType;
  problemsSchema: z.ZodType;
  /** Beyond this many cached runs the cache starts again (paged lists never prune it). Default 50,000. */
  maxEntries?: number;
}

interface Cached {
  resourceVersion: string;
  json: string;
}

/** The cache and the writer of one route group's list bodies. */
export class RunListJson<T extends { metadata: { uid: string; resourceVersion: string } }> {
  readonly #o: Required<RunListJsonOptions>;
  #cache = new Map<string, Cached>();

  constructor(options: RunListJsonOptions) {
    this.#o = { maxEntries: 50_000, ...options };
  }

  /**
   * The whole body. `complete` says the items are every run there is (an unpaged list): the cache
   * then keeps only them, so deleted runs do not stay.
   */
  render(parts: RunListParts, items: readonly T[], complete: boolean): string {
    const previous = this.#cache;
    if (complete) this.#cache = new Map();
    else if (previous.size > this.#o.maxEntries) previous.clear();
    const texts = items.map((item) => this.#itemJson(item, previous));
    const metadata = parts.metadata === undefined ? '' : `,"metadata":${JSON.stringify(encode(this.#o.metadataSchema, parts.metadata, 'metadata'))}`;
    const problems = JSON.stringify(encode(this.#o.problemsSchema, parts.problems, 'problems'));
    return `{"apiVersion":${JSON.stringify(parts.apiVersion)},"kind":${JSON.stringify(parts.kind)}${metadata},"items":[${texts.join(',')}],"problems":${problems}}`;
  }

  #itemJson(item: T, previous: Map<string, Cached>): string {
    const { uid, resourceVersion } = item.metadata;
    let cached = previous.get(uid);
    if (cached?.resourceVersion !== resourceVersion) cached = { resourceVersion, json: JSON.stringify(encode(this.#o.itemSchema, item, 'items')) };
    this.#cache.set(uid, cached);
    return cached.json;
  }
}

/** What the route's serializer does to a value: encode it with its schema; a mismatch is a 500, never a 400. */
function encode(schema: z.ZodType, value: unknown, where: string): unknown {
  const result = z.safeEncode(schema, value);
  if (!result.success) throw new Error(`the AgentRun list's ${where} do not match the response schema`, { cause: result.error });
  return result.data;
}
