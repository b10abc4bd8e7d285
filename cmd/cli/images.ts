// `stromboli images build [--fake]`: builds the agent image (or the fake test image) with the
// recipes under images/, locally, without any registry. The recipes are shell scripts run
// through the Executor; their progress lines are passed through.
import { fileURLToPath } from 'node:url';
import { ExecaExecutor } from '../../controller/src/exec/execa-executor.ts';
import { DEFAULT_AGENT_IMAGE } from '../../controller/src/runner/podman-runner.ts';
import { CliError } from './cli-error.ts';

/** The image references the recipes produce. */
export const AGENT_IMAGE = DEFAULT_AGENT_IMAGE;
export const FAKE_IMAGE = 'localhost/stromboli/fake-claude:latest';

export async function buildImage(options: { fake: boolean; out: (text: string) => void }): Promise<void> {
  const script = fileURLToPath(new URL(`../../images/${options.fake ? 'fake-claude' : 'agent'}/build.sh`, import.meta.url));
  const executor = new ExecaExecutor();
  const handle = executor.stream(['bash', script]);
  for await (const line of handle.lines) options.out(`${line}\n`);
  const result = await handle.done;
  if (result.stderr.trim() !== '') options.out(`${result.stderr.trimEnd()}\n`);
  if (result.exitCode !== 0) throw new CliError(`image build failed (${script} exited ${result.exitCode ?? result.signal ?? 'abnormally'})`);
  options.out(`built ${options.fake ? FAKE_IMAGE : AGENT_IMAGE}\n`);
}
