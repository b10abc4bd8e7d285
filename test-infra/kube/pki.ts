// Certificates and kubeconfigs for the test control plane, as envtest provisions them: one
// throw-away CA signs the serving certificate and the client certificates (CN = user,
// O = groups); a separate key signs service-account tokens. Uses the openssl CLI (Debian's
// openssl 3 is on every machine of this kind); keys only ever live in files, never in argv.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Files of the control plane's PKI, all inside one private folder. */
export interface TestPki {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly servingCert: string;
  readonly servingKey: string;
  readonly serviceAccountKey: string;
  readonly serviceAccountPub: string;
}

/** A client identity: certificate and key files signed by the test CA. */
export interface ClientCert {
  readonly cert: string;
  readonly key: string;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const DAYS = '7';

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await execFileAsync('openssl', args, { timeout: 30_000 });
  } catch (cause) {
    throw new Error(`kube test bed: openssl ${args[0] ?? ''} failed`, { cause });
  }
}

/** Creates the CA, the serving certificate for 127.0.0.1/localhost and the service-account key pair in `dir`. */
export async function createTestPki(dir: string): Promise<TestPki> {
  const pki: TestPki = {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    servingCert: join(dir, 'apiserver.crt'),
    servingKey: join(dir, 'apiserver.key'),
    serviceAccountKey: join(dir, 'sa.key'),
    serviceAccountPub: join(dir, 'sa.pub'),
  };
  await openssl([
    'req', '-x509', ...EC_KEY, '-keyout', pki.caKey, '-out', pki.caCert, '-days', DAYS,
    '-subj', '/CN=stromboli-test-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
  ]);
  const sans = [
    'DNS:localhost', 'IP:127.0.0.1', 'DNS:kubernetes', 'DNS:kubernetes.default',
    'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local', 'IP:10.0.0.1',
  ].join(',');
  await signedCert(pki, '/CN=kube-apiserver', 'serverAuth', pki.servingCert, pki.servingKey, `subjectAltName=${sans}`);
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', pki.serviceAccountKey]);
  await openssl(['pkey', '-in', pki.serviceAccountKey, '-pubout', '-out', pki.serviceAccountPub]);
  return pki;
}

async function signedCert(
  pki: TestPki, subject: string, usage: 'serverAuth' | 'clientAuth', cert: string, key: string, extra?: string,
): Promise<void> {
  await openssl([
    'req', '-x509', ...EC_KEY, '-keyout', key, '-out', cert, '-days', DAYS,
    '-CA', pki.caCert, '-CAkey', pki.caKey, '-subj', subject,
    '-addext', 'basicConstraints=critical,CA:FALSE',
    '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment',
    '-addext', `extendedKeyUsage=${usage}`,
    ...(extra === undefined ? [] : ['-addext', extra]),
  ]);
}

/** Signs a client certificate for `user` in `groups` (e.g. `system:masters` for an admin). */
export async function createClientCert(pki: TestPki, user: string, groups: readonly string[]): Promise<ClientCert> {
  if (!/^[A-Za-z0-9:._@-]+$/.test(user) || groups.some((g) => !/^[A-Za-z0-9:._@-]+$/.test(g))) {
    throw new Error(`kube test bed: user and group names must match [A-Za-z0-9:._@-]+ (got ${user}, ${groups.join(',')})`);
  }
  const base = join(pki.dir, `user-${user.replaceAll(':', '_')}`);
  const out: ClientCert = { cert: `${base}.crt`, key: `${base}.key` };
  const subject = `/CN=${user}${groups.map((g) => `/O=${g}`).join('')}`;
  await signedCert(pki, subject, 'clientAuth', out.cert, out.key);
  return out;
}

/** Writes a kubeconfig (mode 0600) with the CA and client credentials embedded, so it is self-contained. */
export async function writeKubeconfig(
  path: string, opts: { server: string; name: string; caCert: string; client: ClientCert },
): Promise<void> {
  const b64 = async (file: string): Promise<string> => (await readFile(file)).toString('base64');
  const { name } = opts;
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: opts.server, 'certificate-authority-data': await b64(opts.caCert) } }],
    users: [{ name, user: { 'client-certificate-data': await b64(opts.client.cert), 'client-key-data': await b64(opts.client.key) } }],
    contexts: [{ name, context: { cluster: name, user: name, namespace: 'default' } }],
    'current-context': name,
    preferences: {},
  };
  // JSON is valid YAML, and both kubectl and @kubernetes/client-node read it.
  await writeFile(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
}
