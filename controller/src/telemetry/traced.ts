// Spans around the node agent's podman calls, as decorators of the two seams every call goes
// through: the Executor (the podman CLI) and the ApiTransport (the libpod REST API). A span is
// named after what was asked, never after its arguments: no prompt, name or path value reaches it.
// Long-lived streams (`podman logs -f`, the event stream) get no span.
import type { Tracing } from '../../../contract/tracing.ts';
import type { ExecOptions, ExecResult, Executor, StreamHandle } from '../exec/executor.ts';
import type { ApiLineStream, ApiRequest, ApiResponse, ApiTransport } from '../podman/api-transport.ts';

/** Subcommands that name a group (`podman container inspect`, `podman secret create`). */
const GROUPS = new Set(['container', 'image', 'secret', 'system', 'volume', 'network', 'pod']);

/** `podman container inspect` for `podman container inspect --format json x`: the command words, not their arguments. */
export function commandOf(argv: readonly string[]): string {
  const words = argv.slice(1).filter((arg) => !arg.startsWith('-'));
  const [first, second] = words;
  if (first === undefined) return 'podman';
  return GROUPS.has(first) && second !== undefined ? `podman ${first} ${second}` : `podman ${first}`;
}

/** `GET /containers/{name}/json` for `/containers/x/json?all=true`: the route, not the names in it. */
export function routeOf(request: Pick<ApiRequest, 'method' | 'path'>): string {
  const path = request.path.split('?')[0] ?? '';
  const route = path.replace(/^\/(containers|images|secrets|volumes)\/(?!json$|create$|prune$)[^/]+/, '/$1/{name}');
  return `${request.method} ${route}`;
}

/** The Executor with a span per command run (streams pass through). */
export function tracedExecutor(executor: Executor, tracing: Tracing): Executor {
  return {
    run: async (argv: readonly string[], options?: ExecOptions): Promise<ExecResult> => {
      const command = commandOf(argv);
      const span = tracing.startSpan(command, { 'podman.command': command, 'podman.path': 'cli' });
      try {
        const result = await executor.run(argv, options);
        span.setAttributes({ 'process.exit.code': result.exitCode });
        // A non-zero exit is the caller's to judge; the span only says it happened.
        span.end(result.exitCode === 0 ? undefined : new Error(`${command} exited with code ${result.exitCode}`));
        return result;
      } catch (err) {
        span.end(err);
        throw err;
      }
    },
    stream: (argv: readonly string[], options?: ExecOptions): StreamHandle => executor.stream(argv, options),
  };
}

/** The ApiTransport with a span per request (streams pass through). */
export function tracedTransport(transport: ApiTransport, tracing: Tracing): ApiTransport {
  return {
    request: (request: ApiRequest): Promise<ApiResponse> => {
      const route = routeOf(request);
      return tracing.inSpan(`podman API ${route}`, { 'podman.path': 'rest', 'http.request.method': request.method, 'podman.route': route }, () => transport.request(request));
    },
    stream: (path: string, signal: AbortSignal): Promise<ApiLineStream> => transport.stream(path, signal),
  };
}
