/**
 * Layer rules (STYLE.md): the domain stays pure; apps never import each other; libraries are
 * entered through their index only. Checked by test/architecture.unit.spec.ts in `npm test`.
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
