// From an AgentRun's start request to the PodmanRunSpec of its container: safe defaults,
// allowlisted volumes, the session HOME, secrets by name only. Shared by both podman paths.
import { TerminalError } from '../../../contract/errors.ts';
import { Reasons } from '../../../contract/apis/v1alpha1/index.ts';
import { compact } from '../../../contract/compact.ts';
import { buildClaudeArgs, claudeEnv } from '../claude/args.ts';
import type { PodmanRunSpec } from '../podman/args.ts';
import { validateImage, validateVolumes, validateWorkdir } from './workspace.ts';
import { hookEntrypoint } from './lifecycle.ts';
import { containerLabels } from './names.ts';
import type { StartRequest } from './types.ts';

/** The container HOME, where the session directory is mounted (as Stromboli does). */
export const CONTAINER_HOME = '/home/user';

/** The CLI as the hooks' launcher finds it on the image's PATH (the agent images' entrypoint is this command). */
export const CLI_COMMAND = 'claude';

/** The working directory the agent images create (WORKDIR). */
export const IMAGE_WORKDIR = '/workspace';

/** A podman secret given to every container as an environment variable (credentials). */
export interface CredentialSecret {
  secret: string;
  /** An environment variable name (type env) or an absolute container path (type mount). */
  target: string;
  /** Default 'env'. */
  type?: 'env' | 'mount';
}

/** The runner's resolved settings a spec is built from (PodmanAgentRunnerOptions documents each default). */
export interface RunSpecSettings {
  owner: string;
  defaultImage: string;
  allowedVolumes: readonly string[];
  allowedImages: readonly string[];
  defaultMemory: string;
  defaultCpus: string;
  pidsLimit: number;
  user: string;
  network?: string | undefined;
  env: Record<string, string>;
  credentials: readonly CredentialSecret[];
  deadlineGraceSeconds: number;
}

/** Whether `path` is one of `roots` or below one (podman only enters existing directories). */
function isProvided(path: string, roots: readonly string[]): boolean {
  return roots.some((root) => path === root || path.startsWith(root.endsWith('/') ? root : `${root}/`));
}

/**
 * Why: one place turns a StartRequest into the container spec both podman paths use (argv for
 * the CLI, the create body for the REST API). Pure apart from validating volumes against the
 * real filesystem; throws TerminalError for what the spec cannot be.
 */
export async function prepareRunSpec(o: RunSpecSettings, request: StartRequest, sessionPath: string): Promise<PodmanRunSpec> {
  const { spec } = request;
  const volumes = await validateVolumes(spec.podman?.volumes ?? [], { allowedPaths: o.allowedVolumes });
  const workdir = validateWorkdir(spec.workdir);
  if (workdir !== undefined && workdir !== IMAGE_WORKDIR && !isProvided(workdir, [CONTAINER_HOME, ...volumes.map((v) => v.target)])) {
    throw new TerminalError(
      Reasons.InvalidWorkdir,
      `workdir validation failed: ${workdir} must be ${IMAGE_WORKDIR} itself, or inside ${CONTAINER_HOME} or a mounted volume (podman cannot create a missing directory)`,
    );
  }
  const image = validateImage(spec.podman?.image ?? o.defaultImage, o.allowedImages);
  const options = spec.claude ?? {};
  if (options.inputFormat === 'stream-json' || options.replayUserMessages === true) {
    throw new TerminalError(Reasons.InvalidSpec, 'claude.inputFormat stream-json and replayUserMessages need a prompt on stdin; an AgentRun passes its prompt as an argument');
  }
  const fork = request.forkFrom !== undefined;
  const command = buildClaudeArgs({
    prompt: spec.prompt,
    // A fork resumes the session it branches from and names the new one.
    sessionId: fork ? request.forkFrom : request.sessionId,
    resume: fork || request.resume,
    ...(fork ? { forkSessionId: request.sessionId } : {}),
    ...(spec.session?.continue === true ? { continue: true } : {}),
    ...(fork || spec.session?.fork === true ? { fork: true } : {}),
    options,
    streamJson: true,
  });
  const secrets = [
    ...o.credentials.map((c) => ({ name: c.secret, target: c.target, ...(c.type === 'mount' ? { type: 'mount' as const } : {}) })),
    ...Object.entries(spec.podman?.secretsEnv ?? {}).map(([target, name]) => ({ name, target })),
  ];
  // With lifecycle hooks a shell runs them first, then execs the CLI from PATH, as Stromboli does.
  const entrypoint = hookEntrypoint(spec.podman?.lifecycle);
  return {
    name: request.containerName,
    image,
    command: entrypoint === undefined ? command : [CLI_COMMAND, ...command],
    ...compact({ entrypoint }),
    labels: containerLabels(request.run, request.attempt, request.sessionId, o.owner),
    env: { ...o.env, ...claudeEnv(options), HOME: CONTAINER_HOME, ...compact({ TRACEPARENT: request.traceparent }) },
    secrets,
    mounts: [{ source: sessionPath, target: CONTAINER_HOME }, ...volumes],
    user: o.user,
    ...compact({ workdir }),
    memory: spec.podman?.memory ?? o.defaultMemory,
    cpus: spec.podman?.cpus ?? o.defaultCpus,
    ...(spec.podman?.cpuShares === undefined ? {} : { cpuShares: spec.podman.cpuShares }),
    pidsLimit: o.pidsLimit,
    ...(o.network === undefined ? {} : { network: o.network }),
    timeoutSeconds: request.deadlineSeconds + o.deadlineGraceSeconds,
    detach: true,
  };
}
