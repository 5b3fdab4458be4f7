import { join } from 'node:path';

// Every gateway started by the suites logs here; the global teardown scans it for secrets.
// Set before workers start, so they inherit it.
process.env.VLG_TEST_LOG_DIR ??= join(process.cwd(), 'test', '.artifacts', 'logs');

/** Nest 12 is ESM-only, so jest runs in its ESM mode (see README, "Why these versions"). */
export default {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test', '<rootDir>/scripts'],
  testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
    // @fastify/static (CommonJS, used by /docs) requires content-disposition, which is ESM-only.
    // Jest's loader has its own require(esm) only where Node's vm can evaluate a module
    // synchronously (24.9+); elsewhere it loads the file as CommonJS. `useESM` lets jest say
    // which one it needs for each load: CommonJS output for the CommonJS path, ESM untouched
    // for the ESM path. A fixed CommonJS output would be run as ESM on Node 24 and fail.
    'node_modules/content-disposition/.+\\.js$': [
      'ts-jest',
      { useESM: true, tsconfig: { allowJs: true, isolatedModules: true } },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!content-disposition/)'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  maxWorkers: 2,
  testTimeout: 30000,
};
