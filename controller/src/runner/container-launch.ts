// Starting one attempt's container, the two ways podman offers: `podman run -d` (the CLI path,
// one process) or create + start over the REST API with conmon writing the output to our k8s
// file. Both end the same way: 'started', 'adopted' (a running container of that name won a race),
// or a thrown error (TerminalError when trying again cannot help). A container left behind that
// never ran is removed, so the next attempt never adopts it.
import { Reasons } from '../../../contract/apis/v1alpha1/index.ts';
import { TerminalError } from '../../../contract/errors.ts';
import { CommandError } from '../exec/command-error.ts';
import { PodmanApiError } from '../podman/api-client.ts';
import type { PodmanApiClient } from '../podman/api-client.ts';
import { buildPodmanRunArgs } from '../podman/args.ts';
import type { PodmanRunSpec } from '../podman/args.ts';
import type { PodmanClient } from '../podman/client.ts';
import { buildCreateBody } from '../podman/create-body.ts';
import type { CreateBody } from '../podman/create-body.ts';

/** How a launch ended. */
export type LaunchOutcome = 'started' | 'adopted';

/** The operations a launch's clean-up needs, whichever client gives them. */
type Inspector = Pick<PodmanClient, 'inspect' | 'remove'>;

/** The message of an attempt whose image is missing (both paths). */
export function imageNotFound(image: string): TerminalError {
  return new TerminalError(Reasons.ImageNotFound, `image ${image} is not present in local storage; build it with 'stromboli images build' (no registry is pulled from)`, {
    code: 'IMAGE_NOT_FOUND',
  });
}

// The builders refuse what would change the container's meaning (a user secret shadowing a
// controller variable, a value starting with '-'): retrying cannot fix that.
function built<T>(build: () => T): T {
  try {
    return build();
  } catch (err) {
    if (err instanceof RangeError) throw new TerminalError(Reasons.InvalidSpec, `invalid container spec: ${err.message}`, { cause: err });
    throw err;
  }
}

// After a failed start: a running container of that name is adopted, one that never ran is removed.
async function leftBehind(client: Inspector, name: string): Promise<'running' | 'removed' | 'none'> {
  const left = await client.inspect(name).catch(() => undefined);
  if (left?.running === true) return 'running';
  if (left === undefined) return 'none';
  await client.remove(name, { force: true }).catch(() => undefined);
  return 'removed';
}

/** `podman run -d` of the spec (the CLI path). */
export async function launchViaCli(podman: PodmanClient, spec: PodmanRunSpec): Promise<LaunchOutcome> {
  const args = built(() => buildPodmanRunArgs(spec));
  try {
    await podman.run(args);
    return 'started';
  } catch (err) {
    // A failed `podman run -d` can leave the container behind in state `created`.
    if ((await leftBehind(podman, spec.name)) === 'running') return 'adopted';
    // podman's documented exit codes 126/127: the container's command cannot be invoked or
    // found (podman itself ran, the client checked). Starting again would fail the same way.
    if (err instanceof CommandError && (err.exitCode === 126 || err.exitCode === 127)) {
      throw new TerminalError(Reasons.StartFailed, `the container could not start its command (podman exit ${err.exitCode}): ${err.stderrTail.trim().split('\n').pop() ?? ''}`, { cause: err });
    }
    throw err;
  }
}

/**
 * Create + start over the REST API, conmon writing the output to `logPath` (k8s-file). A
 * failed create is told apart by asking (image exists? a container of that name?), never by
 * podman's text. A failed start leaves the container `created`: podman could not run its command
 * (the API gives no exit code to tell a missing binary from the rest), so the attempt ends
 * StartFailed, as the CLI's 126/127 do.
 */
export async function launchViaApi(api: PodmanApiClient, spec: PodmanRunSpec, logPath: string): Promise<LaunchOutcome> {
  const body: CreateBody = built(() => buildCreateBody(spec, { logPath }));
  try {
    await api.create(body);
  } catch (err) {
    if (!(err instanceof PodmanApiError)) throw err; // the service is down: the loop retries
    if (!(await api.imageExists(spec.image))) throw imageNotFound(spec.image);
    const left = await leftBehind(api, spec.name);
    if (left === 'running') return 'adopted';
    throw err;
  }
  try {
    await api.start(spec.name);
    return 'started';
  } catch (err) {
    if (!(err instanceof PodmanApiError)) throw err; // service down mid-start: the next reconcile looks
    if ((await leftBehind(api, spec.name)) === 'running') return 'adopted';
    throw new TerminalError(Reasons.StartFailed, `the container could not start its command: ${err.message}`, { cause: err });
  }
}
