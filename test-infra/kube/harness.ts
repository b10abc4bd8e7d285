// The Kubernetes test bed, step 2: start etcd and kube-apiserver on free loopback ports with a
// temporary data dir, provision an admin identity, write a kubeconfig, wait for /readyz, and stop
// both cleanly. Each server runs under supervise.sh, which stops it when the test process goes
// away (even by SIGKILL), so an interrupted run leaves no process behind. The flag set is
// envtest's (see shared/reference/kube-apiserver-for-tests.md, section 5).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClientCert, createTestPki, writeKubeconfig } from './pki.ts';
import type { TestPki } from './pki.ts';
import { REPO_ROOT } from './tools.ts';
import type { KubeTools } from './tools.ts';

const SUPERVISE = join(REPO_ROOT, 'test-infra', 'kube', 'supervise.sh');

/** Options of startTestControlPlane; every field but `tools` has a default. */
export interface ControlPlaneOptions {
  /** The kube-apiserver and etcd binaries to run (from readKubeTools()). */
  readonly tools: Pick<KubeTools, 'kubeApiserver' | 'etcd'>;
  /** Give up starting after this long. Default: STROMBOLI_KUBE_START_TIMEOUT_MS or 90 000 ms (2 shared cores). */
  readonly startTimeoutMs?: number;
  /** Keep the data dir (logs, etcd data, certificates) after stop. Default: STROMBOLI_KUBE_KEEP_DATA=1. */
  readonly keepData?: boolean;
  /** Progress lines ("etcd ready after 0.4 s"). Default: none. */
  readonly log?: (line: string) => void;
}

/** A running control plane; call stop() exactly once (later calls are no-ops). */
export interface TestControlPlane {
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** kubeconfig of the admin user (group system:masters), context "stromboli-test". */
  readonly kubeconfigPath: string;
  /** Temporary folder holding logs (etcd.log, kube-apiserver.log), etcd data and the PKI. */
  readonly dataDir: string;
  /** Empty folder for the tests' own files, inside dataDir (removed with it). */
  readonly scratchDir: string;
  /** Milliseconds from the call to a ready API server with the default namespace present. */
  readonly startMs: number;
  /** Writes a kubeconfig for another identity (no groups = no rights until RBAC grants them). */
  addUser(user: string, groups?: readonly string[]): Promise<string>;
  /** Stops one server (SIGTERM, SIGKILL after 15 s) and starts it again on the same ports and data; resolves once it is ready again. */
  restart(component: 'kube-apiserver' | 'etcd'): Promise<void>;
  /** Stops kube-apiserver then etcd, kills whatever does not stop in time, removes the data dir. */
  stop(): Promise<void>;
}

interface Supervised {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly logFile: string;
  readonly pidFile: string;
  readonly exited: Promise<void>;
  exitCode: number | null | undefined;
}

const RUN_DIR_PREFIX = 'stromboli-kube-';

/**
 * Creates a private temporary folder for one test run, recording our pid in it, after removing
 * the folders of earlier runs whose process is gone (an interrupted run cannot clean up itself;
 * its servers were already stopped by supervise.sh).
 */
export async function makeRunDir(): Promise<string> {
  const root = tmpdir();
  const names = await readdir(root).catch((): string[] => []);
  for (const name of names) {
    if (!name.startsWith(RUN_DIR_PREFIX)) continue;
    const dir = join(root, name);
    const owner = Number.parseInt(readFileSafe(join(dir, 'owner.pid')), 10);
    if (!Number.isInteger(owner) || owner <= 0 || isAlive(owner)) continue;
    const servers = ['etcd.pid', 'kube-apiserver.pid'].map((f) => Number.parseInt(readFileSafe(join(dir, f)), 10));
    if (servers.some((pid) => Number.isInteger(pid) && pid > 0 && isAlive(pid))) continue;
    await rm(dir, { recursive: true, force: true });
  }
  const dir = await mkdtemp(join(root, RUN_DIR_PREFIX));
  await writeFile(join(dir, 'owner.pid'), `${process.pid}\n`);
  return dir;
}

/** A free TCP port on 127.0.0.1, chosen by the kernel. */
export async function freePort(): Promise<number> {
  return await new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? resolvePort(port) : reject(new Error('no port assigned'))));
    });
  });
}

function startSupervised(name: string, dataDir: string, argv: readonly string[]): Supervised {
  const logFile = join(dataDir, `${name}.log`);
  const pidFile = join(dataDir, `${name}.pid`);
  const fd = openSync(logFile, 'a');
  // Own process group (so stop() can kill the whole group) and a stdin pipe that supervise.sh
  // watches for end-of-file, which arrives whenever this process ends.
  const proc = spawn('bash', [SUPERVISE, pidFile, ...argv], { stdio: ['pipe', fd, fd], detached: true });
  closeSync(fd);
  let markExited: () => void = () => undefined;
  const exited = new Promise<void>((r) => { markExited = r; });
  const s: Supervised = { name, proc, logFile, pidFile, exited, exitCode: undefined };
  proc.once('exit', (code) => { s.exitCode = code; markExited(); });
  proc.once('error', () => { s.exitCode = -1; markExited(); });
  liveGroups.add(proc);
  return s;
}

// Last resort when the process exits without stop(): kill the groups synchronously.
const liveGroups = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of liveGroups) killGroup(p, 'SIGKILL');
});

function killGroup(p: ChildProcess, signal: NodeJS.Signals): void {
  if (p.pid === undefined) return;
  try { process.kill(-p.pid, signal); } catch { /* already gone */ }
}

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

async function stopSupervised(s: Supervised, graceMs: number): Promise<void> {
  if (s.exitCode === undefined) {
    s.proc.kill('SIGTERM');
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
    if ((await Promise.race([s.exited.then(() => 'exited' as const), timer])) === 'timeout') {
      killGroup(s.proc, 'SIGKILL');
      await s.exited;
    }
  }
  // The server itself, should it have survived its supervisor somehow.
  const pid = Number.parseInt(readFileSafe(s.pidFile).trim(), 10);
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  liveGroups.delete(s.proc);
}

function readFileSafe(file: string): string {
  try { return readFileSync(file, 'utf8'); } catch { return ''; }
}

async function logTail(file: string, lines = 30): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').slice(-lines - 1).join('\n');
}

/** GET over mutual TLS with the admin certificate; resolves with the HTTP status (0 when unreachable). */
async function getStatus(url: string, pki: TestPki, cert: { cert: string; key: string }): Promise<number> {
  const [ca, certPem, keyPem] = await Promise.all([readFile(pki.caCert), readFile(cert.cert), readFile(cert.key)]);
  return await new Promise((resolveStatus) => {
    const req = request(url, { ca, cert: certPem, key: keyPem, timeout: 5_000 }, (res) => {
      res.resume();
      res.once('end', () => resolveStatus(res.statusCode ?? 0));
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolveStatus(0));
    req.end();
  });
}

/** Polls `check` every 100 ms until it is true; fails early, with the server's log, if it exits. */
async function waitUntil(what: string, s: Supervised, deadline: number, check: () => Promise<boolean>): Promise<void> {
  for (;;) {
    if (s.exitCode !== undefined) {
      throw new Error(`kube test bed: ${s.name} exited (status ${s.exitCode}) before ${what}; last lines of ${s.logFile}:\n${await logTail(s.logFile)}`);
    }
    if (await check()) return;
    if (Date.now() > deadline) {
      throw new Error(`kube test bed: timed out waiting for ${what}; last lines of ${s.logFile}:\n${await logTail(s.logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts etcd and kube-apiserver. Rejects, after stopping anything it started, with the failing
 * server's log tail when either cannot start: the suites fail loudly, never skip.
 */
export async function startTestControlPlane(options: ControlPlaneOptions): Promise<TestControlPlane> {
  const started = Date.now();
  const { kubeApiserver, etcd } = options.tools;
  if (kubeApiserver === '' || etcd === '') throw new Error('kube test bed: no kube-apiserver/etcd binaries named (run test-infra/kube/setup.sh)');
  const envTimeout = Number(process.env['STROMBOLI_KUBE_START_TIMEOUT_MS']);
  const timeoutMs = options.startTimeoutMs ?? (Number.isFinite(envTimeout) && envTimeout > 0 ? envTimeout : 90_000);
  const keepData = options.keepData ?? process.env['STROMBOLI_KUBE_KEEP_DATA'] === '1';
  const log = options.log ?? ((): void => undefined);
  const deadline = started + timeoutMs;
  const dataDir = await makeRunDir();
  const running: Supervised[] = [];
  const stopAll = async (): Promise<void> => {
    for (const s of running.reverse()) await stopSupervised(s, 15_000);
    running.length = 0;
  };

  try {
    const pkiDir = join(dataDir, 'pki');
    await mkdir(pkiDir, { mode: 0o700 });
    const pki = await createTestPki(pkiDir);
    const admin = await createClientCert(pki, 'admin', ['system:masters']);
    const [clientPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${clientPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const server = `https://127.0.0.1:${apiPort}`;

    const etcdArgv = [
      etcd, '--name=default', `--data-dir=${join(dataDir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`, '--unsafe-no-fsync=true', '--log-level=warn',
    ];
    const etcdReady = async (): Promise<boolean> => {
      const res = await fetch(`${etcdUrl}/health`).catch(() => undefined);
      return res?.ok === true;
    };
    const etcdProc = startSupervised('etcd', dataDir, etcdArgv);
    running.push(etcdProc);
    await waitUntil('etcd /health', etcdProc, deadline, etcdReady);
    log(`etcd ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const apiArgv = [
      kubeApiserver, `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${apiPort}`,
      `--cert-dir=${pkiDir}`, `--tls-cert-file=${pki.servingCert}`, `--tls-private-key-file=${pki.servingKey}`,
      `--client-ca-file=${pki.caCert}`, '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.0.0.0/24', '--allow-privileged=true',
      '--disable-admission-plugins=ServiceAccount',
      `--service-account-issuer=${server}/`, `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    ];
    const apiReady = async (): Promise<boolean> => (await getStatus(`${server}/readyz`, pki, admin)) === 200;
    const apiProc = startSupervised('kube-apiserver', dataDir, apiArgv);
    running.push(apiProc);
    await waitUntil('kube-apiserver /readyz', apiProc, deadline, apiReady);
    await waitUntil('the default namespace', apiProc, deadline, async () => (await getStatus(`${server}/api/v1/namespaces/default`, pki, admin)) === 200);

    const scratchDir = join(dataDir, 'scratch');
    await mkdir(scratchDir);
    const kubeconfigPath = join(dataDir, 'kubeconfig');
    await writeKubeconfig(kubeconfigPath, { server, name: 'stromboli-test', caCert: pki.caCert, client: admin });
    const startMs = Date.now() - started;
    log(`kube-apiserver ready at ${server} after ${(startMs / 1000).toFixed(1)} s (data dir ${dataDir})`);

    let stopped = false;
    return {
      server,
      kubeconfigPath,
      dataDir,
      scratchDir,
      startMs,
      async addUser(user: string, groups: readonly string[] = []): Promise<string> {
        const cert = await createClientCert(pki, user, groups);
        const path = join(dataDir, `kubeconfig-${user.replaceAll(':', '_')}`);
        await writeKubeconfig(path, { server, name: 'stromboli-test', caCert: pki.caCert, client: cert });
        return path;
      },
      async restart(component: 'kube-apiserver' | 'etcd'): Promise<void> {
        const index = running.findIndex((s) => s.name === component);
        const old = running[index];
        if (old === undefined) throw new Error(`kube test bed: ${component} is not running`);
        await stopSupervised(old, 15_000);
        const fresh = startSupervised(component, dataDir, component === 'etcd' ? etcdArgv : apiArgv);
        running[index] = fresh;
        await waitUntil(`${component} ready after a restart`, fresh, Date.now() + timeoutMs, component === 'etcd' ? etcdReady : apiReady);
        log(`${component} restarted`);
      },
      async stop(): Promise<void> {
        if (stopped) return;
        stopped = true;
        await stopAll();
        if (!keepData) await rm(dataDir, { recursive: true, force: true });
        else log(`kept ${dataDir}`);
      },
    };
  } catch (err) {
    await stopAll();
    // Keep the logs for the post-mortem, drop the bulky etcd data.
    await rm(join(dataDir, 'etcd'), { recursive: true, force: true });
    throw err instanceof Error ? new Error(`${err.message}\n(logs kept in ${dataDir})`, { cause: err.cause ?? err }) : err;
  }
}
