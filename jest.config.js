import { join } from 'node:path';

// Every gateway started by the suites logs here; the global teardown scans it for secrets.
// Set before workers start, so they inherit it.
process.env.VLG_TEST_LOG_DIR ??= join(process.cwd(), 'test', '.artifacts', 'logs');

/** Nest 12 is ESM-only, so jest runs in its ESM mode (see README, "Why these versions"). */
export default {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
    // @fastify/static (CommonJS, used by /docs) requires content-disposition, which is ESM-only
    // and relies on Node's require(esm); jest's module loader has no require(esm) on Node 20,
    // so this one package is compiled to CommonJS for the tests.
    'node_modules/content-disposition/.+\\.js$': [
      'ts-jest',
      { useESM: false, tsconfig: { allowJs: true, module: 'commonjs', isolatedModules: true } },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!content-disposition/)'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  maxWorkers: 2,
  testTimeout: 30000,
};
