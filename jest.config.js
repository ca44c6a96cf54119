/** Unit specs live beside the code (libs/, apps/); integration and end-to-end specs under test/. */
const swc = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
    target: 'es2023',
    keepClassNames: true,
  },
  module: { type: 'commonjs' },
};

module.exports = {
  rootDir: '.',
  testEnvironment: 'node',
  testMatch: ['<rootDir>/{libs,apps,test}/**/*.spec.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', swc],
    '^.+\\.js$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'ecmascript' }, target: 'es2023', keepClassNames: true }, module: { type: 'commonjs' } },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!@nestjs/)'],
  setupFiles: ['reflect-metadata'],
  moduleNameMapper: {
    '^nestjs-saga$': '<rootDir>/libs/saga/src',
    '^nestjs-saga/(.*)$': '<rootDir>/libs/saga/src/$1',
  },
  testTimeout: 30000,
};
