/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: '<rootDir>/test/support/environment.js',
  // One onnxruntime-node per worker process: 1.29 aborts when its binding is initialised twice (environment.js).
  moduleNameMapper: { '^onnxruntime-node$': '<rootDir>/test/support/sharedOrt.js' },
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Fetches and converts the real ResNet50 once, before parallel test files could race for it.
  globalSetup: '<rootDir>/test/support/globalSetup.ts',
  // Real-model tests convert and run ResNet50 on 2-core machines: generous per-test time.
  testTimeout: 300000,
  maxWorkers: 2,
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: { warnOnly: false } }] },
};
