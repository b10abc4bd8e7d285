// bench/file-store: the file store alone, in this process (issue 9, P3 and P4). Over N suspended
// one-document manifests (one file each) in a temp directory it measures, per round: the first
// open, N status writes at once, a second open over the same files (nothing changed), creates
// per second from 1, 10 and 50 concurrent writers, and, when the store has compact(), how long a
// compaction takes at N runs and the longest status write made while it runs. Wall and CPU ms,
// medians over the rounds, the load average with every round. Asserts nothing.
// Usage: node bench/file-store.ts [--runs 10000] [--rounds 3] [--seconds 3] [--writers 1,10,50]
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FileStore } from '../controller/src/store/file/file-store.ts';
import { quantile } from './lib.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '3' },
    writers: { type: 'string', default: '1,10,50' },
  },
});
const runs = Number(values.runs);
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const writerCounts = values.writers.split(',').map(Number);

interface Status {
  phase: string;
}

/** Wall and CPU (user + system) milliseconds of `work`. */
async function timed<T>(work: () => Promise<T>): Promise<{ wall: number; cpu: number; value: T }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const value = await work();
  const used = process.cpuUsage(cpu);
  return { wall: performance.now() - started, cpu: (used.user + used.system) / 1000, value };
}

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

function manifest(i: number): string {
  return `apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata:\n  name: run-${i}\nspec:\n  prompt: run ${i}\n  suspend: true\n`;
}

type Compactable = FileStore<Status> & { compact?: () => Promise<void> };

const figures = new Map<string, number[]>();
function record(label: string, value: number): void {
  figures.set(label, [...(figures.get(label) ?? []), value]);
}

async function round(index: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-file-store-'));
  const runsDir = join(dir, 'runs');
  const stateDir = join(dir, 'state');
  try {
    await mkdir(runsDir);
    for (let i = 0; i < runs; i++) await writeFile(join(runsDir, `run-${i}.yaml`), manifest(i));
    console.log(`round ${index + 1}: load ${load()}`);
    const first = await timed(() => FileStore.open<Status>({ runsDir, stateDir }));
    const store: Compactable = first.value;
    record('first open wall', first.wall);
    record('first open cpu', first.cpu);
    const listed = await store.list();
    const writes = await timed(() => Promise.all(listed.map((o) => store.updateStatus(o.metadata, { phase: 'Suspended' }, o.metadata.resourceVersion))));
    record(`${runs} status writes wall`, writes.wall);
    record(`${runs} status writes cpu`, writes.cpu);
    if (typeof store.compact === 'function') {
      const compact = store.compact.bind(store);
      const target = await store.get({ namespace: 'default', name: 'run-0' });
      let version = target.metadata.resourceVersion;
      let longest = 0;
      let during = 0;
      let compacting = true;
      const writer = (async () => {
        while (compacting) {
          const started = performance.now();
          version = (await store.updateStatus(target.metadata, { phase: `w${during}` }, version)).metadata.resourceVersion;
          longest = Math.max(longest, performance.now() - started);
          during += 1;
        }
      })();
      const compaction = await timed(async () => {
        try {
          await compact();
        } finally {
          compacting = false;
        }
      });
      await writer;
      record(`compaction at ${runs} wall`, compaction.wall);
      record(`compaction at ${runs} cpu`, compaction.cpu);
      record('longest write during compaction', longest);
      record('writes during compaction', during);
    }
    await store.close();
    const second = await timed(() => FileStore.open<Status>({ runsDir, stateDir }));
    record('second open wall', second.wall);
    record('second open cpu', second.cpu);
    record('second open commits', second.value.commits);
    await second.value.close();
    console.log(`  after opens and writes: load ${load()}`);

    // Creates from W concurrent writers, each one create at a time, over an empty runs dir.
    await rm(stateDir, { recursive: true, force: true });
    await rm(runsDir, { recursive: true, force: true });
    await mkdir(runsDir);
    const api = await FileStore.open<Status>({ runsDir, stateDir });
    for (const writers of writerCounts) {
      const before = api.commits;
      let created = 0;
      const until = performance.now() + seconds * 1000;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: writers }, async () => {
          while (performance.now() < until) {
            await api.create({ apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: { generateName: 'api-' }, spec: { prompt: 'x' } });
            created += 1;
          }
        }),
      );
      const elapsed = (performance.now() - started) / 1000;
      record(`creates/s, ${writers} writers`, created / elapsed);
      record(`creates per group, ${writers} writers`, created / Math.max(1, api.commits - before));
    }
    await api.close();
    console.log(`  after creates: load ${load()}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

for (let i = 0; i < rounds; i++) await round(i);
console.log(`bench/file-store: ${runs} runs, ${rounds} rounds (medians; min–max)`);
for (const [label, samples] of figures) {
  const shown = (v: number): string => v.toFixed(v < 10 ? 1 : 0);
  console.log(`${label.padEnd(36)} ${shown(quantile(samples, 0.5)).padStart(8)}   (${shown(Math.min(...samples))}–${shown(Math.max(...samples))})`);
}
