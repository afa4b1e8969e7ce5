/**
 * jest runs in its CommonJS runtime. p-limit (and its dependency yocto-queue) ship ESM only, so they
 * are transformed by ts-jest like our own sources (allowJs in the transform's tsconfig) instead of
 * being ignored, which is jest's default for node_modules. isolatedModules keeps ts-jest from
 * type-checking every import (`npm run typecheck` does that once, faster).
 */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.[tj]s$': [
      'ts-jest',
      {
        tsconfig: {
          allowJs: true,
          isolatedModules: true,
          module: 'commonjs',
          target: 'ES2022',
          esModuleInterop: true,
          resolveJsonModule: true,
        },
      },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!(p-limit|yocto-queue)/)'],
  setupFiles: ['<rootDir>/test/support/env.ts'],
  testTimeout: 30000,
  maxWorkers: 2,
};
