// Where the repository, the fake agent image and the project's podman configuration are, for the
// podman and e2e suites. Import from test files only.
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is controller/test/helpers/repo.ts). */
export const REPO_ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

/** The fake Claude CLI image (images/fake-claude), built locally by its build.sh. */
export const FAKE_IMAGE = 'localhost/stromboli/fake-claude:latest';

/** containers.conf the project needs on these machines (runc, explicit ulimits); CONTAINERS_CONF wins when set. */
export const CONTAINERS_CONF = process.env['CONTAINERS_CONF'] ?? join(REPO_ROOT, 'config/containers.conf');

/** The `stromboli` command, run with `node` as a child process. */
export const STROMBOLI_BIN = join(REPO_ROOT, 'bin/stromboli.js');

/** The directory of example manifests (examples/**). */
export const EXAMPLES_DIR = join(REPO_ROOT, 'examples');
