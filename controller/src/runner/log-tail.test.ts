import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tailLines } from './log-tail.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tail-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const line of iterable) out.push(line);
  return out;
}

describe('tailLines', () => {
  it('reads a finished file, skipping fromLine lines, including a last line without newline', async () => {
    const path = join(dir, 'a.jsonl');
    await writeFile(path, 'one\ntwo\nthree');
    expect(await collect(tailLines(path))).toEqual(['one', 'two', 'three']);
    expect(await collect(tailLines(path, { fromLine: 2 }))).toEqual(['three']);
  });

  it('treats a missing file as empty', async () => {
    expect(await collect(tailLines(join(dir, 'none')))).toEqual([]);
  });

  it('follows a growing file until follow says stop, losing nothing written in between', async () => {
    const path = join(dir, 'b.jsonl');
    await writeFile(path, 'a\n');
    let open = true;
    const seen: string[] = [];
    const done = (async () => {
      for await (const line of tailLines(path, { follow: () => open, pollMs: 10 })) seen.push(line);
    })();
    await expect.poll(() => seen).toEqual(['a']);
    await appendFile(path, 'b\nc');
    await expect.poll(() => seen).toEqual(['a', 'b']);
    await appendFile(path, '\nd\n');
    open = false;
    await done;
    expect(seen).toEqual(['a', 'b', 'c', 'd']);
  });

  it('stops when the signal aborts', async () => {
    const path = join(dir, 'c.jsonl');
    const controller = new AbortController();
    const done = collect(tailLines(path, { follow: () => true, signal: controller.signal, pollMs: 10 }));
    controller.abort();
    expect(await done).toEqual([]);
  });
});
