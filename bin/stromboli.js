#!/usr/bin/env node
// The `stromboli` command. The sources are TypeScript run by Node's type stripping (Node >= 22.19);
// scripts/lib/node.sh brings such a Node when the system one is older.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(`stromboli needs Node >= 22.19 (this is ${process.versions.node}); run it through 'npm start' or source scripts/lib/node.sh\n`);
  process.exit(1);
}
const { run } = await import('../cmd/stromboli.ts');
await run();
