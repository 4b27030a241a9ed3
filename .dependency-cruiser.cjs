/**
 * Layer rules (STYLE.md): the domain stays pure; apps never import each other; libraries are
 * entered through their index only, in library order; production code never imports test code. Checked by test/architecture.unit.spec.ts in `npm test`.
 */
module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment:
        'libs/domain: no Nest, no drivers, no I/O — clock, ids and policy come in as arguments',
      severity: 'error',
      from: { path: '^libs/domain/' },
      to: {
        path: 'node_modules/(@types/)?(@nestjs|pg|pg-[^/]+|kafkajs|@electric-sql|@kurrent|class-validator|class-transformer|express)(/|$)',
      },
    },
    {
      name: 'domain-no-io-builtins',
      comment: 'libs/domain must not touch files, network, processes or timers',
      severity: 'error',
      from: { path: '^libs/domain/', pathNot: '\\.spec\\.ts$' },
      to: {
        dependencyTypes: ['core'],
        path: '^(node:)?(fs|fs/promises|net|http|https|http2|dgram|child_process|cluster|dns|tls|worker_threads|timers|readline|crypto)$',
      },
    },
    {
      name: 'domain-depends-on-nothing-else',
      severity: 'error',
      from: { path: '^libs/domain/', pathNot: '\\.spec\\.ts$' },
      to: { path: '^(libs/(?!domain/)|apps/)' },
    },
    {
      name: 'apps-do-not-import-each-other',
      severity: 'error',
      from: { path: '^apps/([^/]+)/' },
      to: { path: '^apps/', pathNot: '^apps/$1/' },
    },
    {
      name: 'libs-do-not-import-apps',
      severity: 'error',
      from: { path: '^libs/' },
      to: { path: '^apps/' },
    },
    {
      name: 'enter-libraries-through-their-index',
      comment: "libs/<lib>/src/index.ts is each library's only door",
      severity: 'error',
      from: { path: '^(apps|libs/([^/]+))/' },
      to: { path: '^libs/([^/]+)/src/.+', pathNot: ['^libs/([^/]+)/src/index\\.ts$', '^libs/$2/'] },
    },
    // Library order, lowest first: domain; event-store; ledger; config; projections; messaging;
    // workflows. A library imports only libraries below it, so none can grow a cycle through
    // another or pull the composition root into a building block.
    ...[
      ['event-store', 'ledger|config|projections|messaging|workflows|scenarios'],
      ['ledger', 'config|projections|messaging|workflows|scenarios'],
      ['config', 'projections|messaging|workflows|scenarios'],
      ['projections', 'messaging|workflows|scenarios'],
      ['messaging', 'workflows|scenarios'],
      ['workflows', 'scenarios'],
      // The scenario runner is a client of the HTTP API: it needs none of the server's parts.
      ['scenarios', 'event-store|ledger|projections|messaging|workflows'],
    ].map(([lib, above]) => ({
      name: `library-order-${lib}`,
      comment: `libs/${lib} may not import libs/(${above}): they sit above it or beside it`,
      severity: 'error',
      from: { path: `^libs/${lib}/`, pathNot: '\\.spec\\.ts$' },
      to: { path: `^libs/(${above})/` },
    })),
    {
      name: 'production-code-never-imports-test-code',
      comment:
        'libs/testing and *.testing.ts / testing/ helpers serve specs only: no app or library ships them',
      severity: 'error',
      from: {
        path: '^(apps|libs)/',
        pathNot: ['\\.spec\\.ts$', '\\.testing\\.ts$', '/testing/', '^libs/testing/'],
      },
      to: { path: ['^libs/testing/', '\\.testing\\.ts$', '/testing/'] },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
