// Import boundaries (STYLE.md §2): each third-party adapter lives in one place, the reconcile
// loop stays domain-free, the API facade never reaches podman, and nothing is circular.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'execa-only-in-executor',
      comment: 'Every shell command goes through the Executor seam; execa lives in one adapter.',
      severity: 'error',
      from: { pathNot: '^controller/src/exec/execa-executor\\.ts$' },
      to: { path: 'node_modules/execa/' },
    },
    {
      name: 'kube-client-only-in-kube-adapters',
      severity: 'error',
      from: { pathNot: ['^controller/src/store/kube-', '^test-infra/kube/', '^controller/test/kube/'] },
      to: { path: 'node_modules/@kubernetes/client-node/' },
    },
    {
      name: 'chokidar-only-in-file-store',
      severity: 'error',
      from: { pathNot: '^controller/src/store/file-store\\.ts$' },
      to: { path: 'node_modules/chokidar/' },
    },
    {
      name: 'yaml-only-at-edges',
      severity: 'error',
      from: { pathNot: ['^controller/src/store/manifest-file\\.ts$', '^controller/src/cli/', '^scripts/', '\\.test\\.ts$', '^controller/test/', '^test-infra/'] },
      to: { path: 'node_modules/yaml/' },
    },
    {
      name: 'fastify-only-in-api-server',
      severity: 'error',
      from: { path: '^controller/', pathNot: ['^controller/src/embedded\\.ts$', '^controller/test/'] },
      to: { path: ['node_modules/fastify', 'node_modules/@fastify/'] },
    },
    {
      name: 'reconcile-loop-is-domain-free',
      severity: 'error',
      from: { path: '^controller/src/reconcile/' },
      to: { path: '^controller/src/', pathNot: ['^controller/src/reconcile/', '^controller/src/errors\\.ts$', '^controller/src/store/store\\.ts$'] },
    },
    {
      name: 'phases-are-pure',
      severity: 'error',
      from: { path: '^controller/src/agentrun/phases\\.ts$' },
      to: { path: ['^controller/src/(runner|podman|exec|store)/(?!types\\.ts$|stream-json\\.ts$)', '^node:(fs|child_process|net|http)'] },
    },
    {
      name: 'api-routes-never-reach-the-runner',
      comment: 'The facade writes specs and reads status; only composition roots wire implementations.',
      severity: 'error',
      from: { path: '^api-server/src/', pathNot: ['^api-server/src/main\\.ts$', '\\.test\\.ts$'] },
      to: { path: '^controller/src/', pathNot: ['^controller/src/apis/', '^controller/src/errors\\.ts$', '^controller/src/redact\\.ts$'] },
    },
    {
      name: 'api-tests-use-only-the-store-fakes',
      comment: 'Route tests may back their ports with the MemoryStore fake, nothing else of the controller.',
      severity: 'error',
      from: { path: '^api-server/src/.*\\.test\\.ts$' },
      to: {
        path: '^controller/src/',
        pathNot: ['^controller/src/apis/', '^controller/src/errors\\.ts$', '^controller/src/redact\\.ts$', '^controller/src/store/(memory-store|store)\\.ts$'],
      },
    },
    {
      name: 'controller-does-not-import-the-api',
      severity: 'error',
      from: { path: '^controller/src/', pathNot: '^controller/src/embedded\\.ts$' },
      to: { path: '^api-server/' },
    },
    {
      name: 'product-never-imports-tests',
      severity: 'error',
      from: { path: '^(controller|api-server)/src/', pathNot: '\\.test\\.ts$' },
      to: { path: ['\\.test\\.ts$', '^controller/test/', '^test-infra/'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['^\\.cache/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
