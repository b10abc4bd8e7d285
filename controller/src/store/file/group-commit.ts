// Group commit for the file store's durable writes (docs/file-store.md, "Writes are grouped"):
// writes that arrive while a flush is on the disk wait and go out together in the next one, so
// a burst of creates costs one journal append and fdatasync instead of one each. Every caller is settled only
// once its own group is on disk.

/** A flush: writes the items durably; may refuse single items by returning an error at their index. */
export type FlushGroup<T> = (items: readonly T[]) => Promise<readonly (Error | undefined)[] | void>;

interface Waiting<T> {
  item: T;
  done: () => void;
  fail: (err: unknown) => void;
}

/**
 * One flush at a time; items submitted meanwhile form the next group. Items submitted in the same
 * tick as the first one join its group. A flush that throws fails every item of its group.
 */
export class GroupCommit<T> {
  readonly #flush: FlushGroup<T>;
  #waiting: Waiting<T>[] = [];
  #running: Promise<void> | undefined;
  /** Number of flushes so far: what tests count to see a group written at once. */
  flushes = 0;

  constructor(flush: FlushGroup<T>) {
    this.#flush = flush;
  }

  /** Resolves once `item` is durably written with its group; rejects when its group failed. */
  submit(item: T): Promise<void> {
    return new Promise<void>((done, fail) => {
      this.#waiting.push({ item, done, fail });
      this.#running ??= this.#loop();
    });
  }

  /** Resolves once nothing waits and no flush is in progress. */
  async drain(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  async #loop(): Promise<void> {
    await Promise.resolve(); // the rest of this tick's submissions join the first group
    while (this.#waiting.length > 0) {
      const group = this.#waiting;
      this.#waiting = [];
      this.flushes += 1;
      try {
        const refused = (await this.#flush(group.map((w) => w.item))) ?? [];
        for (const [index, waiting] of group.entries()) {
          const err = refused[index];
          if (err === undefined) waiting.done();
          else waiting.fail(err);
        }
      } catch (err) {
        for (const waiting of group) waiting.fail(err);
      }
    }
    this.#running = undefined;
  }
}

/** Runs `work` on every item with at most `limit` in flight; rejects with the first failure once all have settled. */
export async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = items.values(); // shared: each lane takes the next item
  let failure: { err: unknown } | undefined;
  const lane = async (): Promise<void> => {
    for (const item of queue) {
      try {
        await work(item);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure !== undefined) throw failure.err;
}
