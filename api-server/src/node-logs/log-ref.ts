// The address of an attempt's log on the node agent that ran it: what a node agent writes as
// status.logRef and what the facade follows. One format, built and read here only:
//   <advertised base>/logs/<namespace>/<name>/<uid>/attempts/<n>
// e.g. http://10.0.3.7:8586/logs/team-a/job-1f2e.../0b6c.../attempts/1

/** The run a log belongs to. */
export interface LogRunIdentity {
  namespace: string;
  name: string;
  uid: string;
}

const PATH = /\/logs\/[^/]+\/[^/]+\/[^/]+\/attempts\/\d+$/;

/** The log URL of one attempt under an agent's advertised base URL (http(s)://host:port, no trailing path). */
export function logUrlOf(base: string, run: LogRunIdentity, attempt: number): string {
  const root = base.replace(/\/+$/, '');
  const parts = [run.namespace, run.name, run.uid].map(encodeURIComponent);
  return `${root}/logs/${parts.join('/')}/attempts/${attempt}`;
}

/**
 * The base URL of a logRef written by a node agent's log endpoint, or undefined for anything else
 * (an embedded-mode path, an agent started without --log-address).
 */
export function logBaseOf(logRef: string | undefined): string | undefined {
  if (logRef === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(logRef);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !PATH.test(url.pathname)) return undefined;
  return `${url.origin}${url.pathname.replace(PATH, '')}`;
}

/** Checks an advertised base URL (--log-advertise-url): http(s), no query or fragment. Throws a RangeError naming it. */
export function checkAdvertiseUrl(base: string): string {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new RangeError(`log advertise URL "${base}" is not a URL (e.g. http://10.0.3.7:8586)`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '' || url.username !== '') {
    throw new RangeError(`log advertise URL "${base}" must be http(s)://HOST:PORT[/PATH], without query, fragment or credentials`);
  }
  return base.replace(/\/+$/, '');
}
