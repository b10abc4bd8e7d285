// Runs Lua health checks the way Argo CD does, with Debian's lua5.1 (installed by
// scripts/lib/lua.sh): objects are handed over as Lua table literals (no JSON library in Lua 5.1,
// and none fetched), and run-health.lua runs the check once per object in a fresh sandbox.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RUNNER = join(import.meta.dirname, 'run-health.lua');

/** What a health check returned for one object. */
export interface HealthResult {
  readonly status: string;
  readonly message: string;
}

/** The Lua interpreter to use: $LUA (scripts/lib/lua.sh exports it), else lua5.1 on PATH. */
export function luaInterpreter(): string {
  return process.env['LUA'] ?? 'lua5.1';
}

/** A Lua 5.1 string literal holding exactly the UTF-8 bytes of `text`. */
function luaString(text: string): string {
  let out = '"';
  for (const byte of Buffer.from(text, 'utf8')) {
    if (byte === 0x22) out += '\\"';
    else if (byte === 0x5c) out += '\\\\';
    else if (byte < 0x20 || byte >= 0x7f) out += `\\${byte.toString(10).padStart(3, '0')}`;
    else out += String.fromCharCode(byte);
  }
  return `${out}"`;
}

/**
 * JSON-shaped data as a Lua table literal, as Argo CD converts an object for its Lua VM: objects
 * become tables with string keys, arrays 1-based lists, null an absent key. Throws on what JSON
 * cannot hold (undefined in an array, functions, non-finite numbers).
 */
export function toLuaLiteral(value: unknown): string {
  if (value === null) return 'nil';
  switch (typeof value) {
    case 'string':
      return luaString(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new RangeError(`toLuaLiteral: ${value} has no JSON form`);
      return String(value);
    case 'object': {
      if (Array.isArray(value)) {
        return `{${value.map((item: unknown) => {
          if (item === null || item === undefined) throw new RangeError('toLuaLiteral: a null in an array would make a hole in a Lua list');
          return toLuaLiteral(item);
        }).join(', ')}}`;
      }
      const fields = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined && v !== null)
        .map(([k, v]) => `[${luaString(k)}] = ${toLuaLiteral(v)}`);
      return `{${fields.join(', ')}}`;
    }
    default:
      throw new TypeError(`toLuaLiteral: a ${typeof value} has no JSON form`);
  }
}

/**
 * Runs the health check in `checkFile` on each object, in order. Rejects when the interpreter
 * cannot run (naming scripts/lib/lua.sh) or its output does not have one line per object.
 */
export async function runHealthCheck(checkFile: string, objects: readonly unknown[]): Promise<HealthResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'stromboli-health-'));
  try {
    const input = join(dir, 'objects.lua');
    // One round trip through JSON first, so the Lua side sees what a client would read back.
    await writeFile(input, `return {\n${objects.map((o) => toLuaLiteral(JSON.parse(JSON.stringify(o)))).join(',\n')}\n}\n`);
    const stdout = await new Promise<string>((resolveOut, reject) => {
      execFile(luaInterpreter(), [RUNNER, checkFile, input], { timeout: 30_000, maxBuffer: 4 * 1024 * 1024 }, (err, out, stderr) => {
        if (err === null) resolveOut(out);
        else if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new Error(`${luaInterpreter()} is not installed: run \`bash scripts/lib/lua.sh\` (npm test does) or set LUA=/path/to/lua5.1`, { cause: err }));
        } else reject(new Error(`${luaInterpreter()} ${RUNNER} failed: ${stderr || err.message}`, { cause: err }));
      });
    });
    const lines = stdout.split('\n').filter((l) => l !== '');
    if (lines.length !== objects.length) throw new Error(`expected ${objects.length} results from the health check, got ${lines.length}:\n${stdout}`);
    return lines.map((line, i) => {
      const [index, status, ...message] = line.split('\t');
      if (index !== String(i + 1) || status === undefined) throw new Error(`unexpected health check output line: ${line}`);
      return { status, message: message.join('\t') };
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
