// Import boundaries (STYLE.md §2, docs/architecture.md "Layout"): entry points on top (cmd/), the
// shared contract at the bottom (contract/), the controller and the facade side by side between
// them, never importing each other; each third-party adapter in one place; the reconcile loop
// domain-free; nothing circular.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'contract-is-the-bottom',
      comment: 'The shared contract (AgentRun types, store interface and kit, errors, ports) imports nothing of the project above it.',
      severity: 'error',
      from: { path: '^contract/' },
      to: { path: '^(cmd|controller|api-server|bench|scripts|test-infra)/' },
    },
    {
      name: 'controller-never-imports-the-facade',
      comment: 'Only the entry points (cmd/) import both sides.',
      severity: 'error',
      from: { path: '^controller/src/' },
      to: { path: '^(api-server|cmd)/' },
    },
    {
      name: 'facade-never-imports-the-controller',
      comment: 'The facade sees the controller only through the contract; its tests may use the controller fakes and the real reconciler.',
      severity: 'error',
      from: { path: '^api-server/', pathNot: ['\\.test\\.ts$', '^api-server/test/'] },
      to: { path: '^(controller|cmd)/' },
    },
    {
      name: 'facade-tests-use-controller-fakes-only',
      comment: 'API unit tests drive the real AgentRunReconciler over MemoryStore and FakeAgentRunner; nothing that reaches podman (the *.int.test.ts suites under api-server/test/ run real servers).',
      severity: 'error',
      from: { path: ['^api-server/src/.*\\.test\\.ts$', '^api-server/test/helpers/'] },
      to: { path: '^controller/src/(exec/execa-executor|podman/client|runner/podman-runner|store/file/|store/kube/)' },
    },
    {
      name: 'entry-points-are-on-top',
      comment: 'Nothing below the entry points imports them (bin/, bench/ and the tests start processes through them).',
      severity: 'error',
      from: { path: '^(contract|controller/src|api-server/src)/' },
      to: { path: '^cmd/' },
    },
    {
      name: 'execa-only-in-executor',
      comment: 'Every shell command goes through the Executor seam; execa lives in one adapter.',
      severity: 'error',
      from: { pathNot: '^controller/src/exec/execa-executor\\.ts$' },
      to: { path: 'node_modules/execa/' },
    },
    {
      name: 'kube-client-only-in-kube-store',
      severity: 'error',
      from: { pathNot: ['^controller/src/store/kube/', '^test-infra/kube/', '^controller/test/kube/'] },
      to: { path: 'node_modules/@kubernetes/client-node/' },
    },
    {
      name: 'opentelemetry-only-in-telemetry',
      comment: 'Spans go through the Tracing port (contract/tracing.ts); the OpenTelemetry SDK lives in one adapter.',
      severity: 'error',
      from: { pathNot: '^controller/src/telemetry/otel-tracing(\\.test)?\\.ts$' },
      to: { path: 'node_modules/@opentelemetry/' },
    },
    {
      name: 'chokidar-only-in-file-store',
      severity: 'error',
      from: { pathNot: '^controller/src/store/file/file-store\\.ts$' },
      to: { path: 'node_modules/chokidar/' },
    },
    {
      name: 'yaml-only-at-edges',
      severity: 'error',
      from: { pathNot: ['^controller/src/store/file/manifest-file\\.ts$', '^cmd/cli/', '^scripts/', '\\.test\\.ts$', '^controller/test/', '^test-infra/'] },
      to: { path: 'node_modules/yaml/' },
    },
    {
      name: 'fastify-only-in-api-server',
      severity: 'error',
      from: { pathNot: ['^api-server/', '^controller/test/', '^bench/'] },
      to: { path: ['node_modules/fastify', 'node_modules/@fastify/'] },
    },
    {
      name: 'reconcile-loop-is-domain-free',
      severity: 'error',
      from: { path: '^controller/src/reconcile/' },
      to: { path: '^controller/src/', pathNot: ['^controller/src/reconcile/'] },
    },
    {
      name: 'phases-are-pure',
      severity: 'error',
      // runner/lifecycle.ts is pure too (it builds the hooks' launcher; phases reads its exit codes).
      from: { path: '^controller/src/agentrun/phases\\.ts$' },
      to: { path: ['^controller/src/(runner|podman|exec|store)/(?!types\\.ts$|stream-json\\.ts$|lifecycle\\.ts$)', '^node:(fs|child_process|net|http)'] },
    },
    {
      name: 'product-never-imports-tests',
      severity: 'error',
      from: { path: '^(cmd|contract|controller/src|api-server/src)/', pathNot: '\\.test\\.ts$' },
      to: { path: ['\\.test\\.ts$', '^controller/test/', '^api-server/test/', '^test-infra/'] },
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
