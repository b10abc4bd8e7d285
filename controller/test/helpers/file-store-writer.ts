// A child process for the file store's crash test (controller/src/store/file/file-store.test.ts):
// opens a FileStore on the given directories and creates runs from several concurrent writers
// until it is killed, printing each create's name on its own line once the store acknowledged
// it. The parent kills it with SIGKILL mid-burst and checks that every printed name survived.
// Usage: node controller/test/helpers/file-store-writer.ts <runsDir> <stateDir> [writers] [compactAfterBytes]
import { writeSync } from 'node:fs';
import { FileStore } from '../../src/store/file/file-store.ts';

const [runsDir, stateDir, writers = '10', compactAfterBytes = String(4 * 1024 * 1024)] = process.argv.slice(2);
if (runsDir === undefined || stateDir === undefined) throw new Error('usage: file-store-writer.ts <runsDir> <stateDir> [writers] [compactAfterBytes]');
const store = await FileStore.open({ runsDir, stateDir, compactAfterBytes: Number(compactAfterBytes) });
writeSync(1, 'ready\n');
let next = 0;
await Promise.all(
  Array.from({ length: Number(writers) }, async () => {
    for (;;) {
      const name = `burst-${next++}`;
      await store.create({ apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: { name }, spec: { prompt: name } });
      writeSync(1, `${name}\n`); // synchronous: printed before the next create can be acknowledged
    }
  }),
);
