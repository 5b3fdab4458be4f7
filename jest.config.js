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
  },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  maxWorkers: 2,
  testTimeout: 30000,
};
