import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.serverless/', '.esbuild/', 'coverage/', 'deploy/packaged/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-imports': 'off',
    },
  },
  {
    // The domain core stays pure: no SDK, no network, no environment.
    files: ['src/domain/**/*.ts'],
    rules: {
      // ...and knows nothing of the layers around it (use cases, adapters, the CLI, Lambda wiring).
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            '@aws-sdk/*',
            'node:fs',
            'node:http',
            'node:https',
            'fs',
            'http',
            'https',
            '../app/**',
            '../adapters/**',
            '../cli/**',
            '../lambda/**',
            '../wiring/**',
            '../config/**',
          ],
        },
      ],
      'no-restricted-globals': ['error', 'fetch', 'process'],
    },
  },
  {
    // Use cases reach the network through adapters (src/adapters/http.ts), never with fetch themselves, and
    // know nothing of the runtimes that call them.
    files: ['src/app/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', 'fetch'],
      'no-restricted-imports': ['error', { patterns: ['../cli/**', '../lambda/**', '../wiring/**'] }],
    },
  },
  {
    // Adapters implement the ports of src/app/ports.ts; they never reach up into a runtime's wiring.
    files: ['src/adapters/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/cli/**', '**/lambda/**', '**/wiring/**'], message: 'adapters never import a runtime' },
            {
              regex: '^(\\.\\./)+app/(?!ports\\.js$)',
              message: 'adapters know the use cases only by src/app/ports.ts',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        module: 'writable',
        require: 'readonly',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
