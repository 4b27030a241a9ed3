import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'data/**',
      'coverage/**',
      '.tmp/**',
      'infra/kafka/libs/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      // Configuration is read once per app at boot (STYLE habit 8).
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'Read configuration through the app config module.',
        },
      ],
    },
  },
  {
    files: [
      '**/*.config.ts',
      '**/config/**/*.ts',
      'libs/config/**',
      'apps/*/src/main.ts',
      '**/*.spec.ts',
      'test/**/*.ts',
      'libs/testing/**/*.ts',
      'infra/**',
      '**/*.js',
      '**/*.cjs',
      '**/*.mjs',
      'apps/cli/**/*.ts',
    ],
    rules: { 'no-restricted-properties': 'off', '@typescript-eslint/no-require-imports': 'off' },
  },
);
