/**
 * Three kinds of test, named by suffix beside the code (STYLE.md):
 * *.unit.spec.ts (pure, fast), *.int.spec.ts (real PostgreSQL / PGlite), *.e2e.spec.ts (whole app).
 * The global setup brings up a throwaway PostgreSQL when DATABASE_URL is not set.
 */
const transform = {
  '^.+\\.(t|j|mj)s$': [
    '@swc/jest',
    {
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
        target: 'es2022',
        keepClassNames: true,
      },
    },
  ],
};
const moduleNameMapper = { '^@truceline/(.*)$': '<rootDir>/libs/$1/src' };
const common = {
  // NestJS 12, jose and canonicalize ship ES modules only: let swc turn them into CommonJS for jest.
  transformIgnorePatterns: ['/node_modules/(?!(@nestjs|jose|canonicalize)/)'],
  transform,
  moduleNameMapper,
  testEnvironment: 'node',
  // PGlite's wasm without background tier-up, which kept workers alive after their last test.
  setupFiles: ['<rootDir>/test/wasm-baseline.setup.ts'],
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test', '<rootDir>/infra'],
};

module.exports = {
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  maxWorkers: 2,
  // How long a worker may take to be gone after its last test before jest kills it and warns of a
  // leak. Jest's 500 ms is shorter than a worker of the int and e2e specs takes to tear down on a
  // loaded machine: such a worker leaves its event loop empty within 2 ms of the end, but the
  // process of about 1 GB (PGlite's wasm memories, the modules jest keeps compiled under
  // --experimental-vm-modules) took 411 and 453 ms more to be gone at load 8, and longer at load
  // 20. A worker kept alive by a handle left open never exits, and is still reported after 2 s.
  workerGracefulExitTimeout: 2000,
  // Per-project testTimeout is not applied by jest 30: one global budget for int and e2e specs.
  testTimeout: 60000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['**/*.unit.spec.ts'] },
    { ...common, displayName: 'int', testMatch: ['**/*.int.spec.ts'], testTimeout: 60000 },
    { ...common, displayName: 'e2e', testMatch: ['**/*.e2e.spec.ts'], testTimeout: 180000 },
  ],
};
