import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'packages/*/dist/**', 'node_modules/**', '.data/**', 'bench/results/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['warn', 'error'] }],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // The console page runs in the browser (tsconfig.console.json): no Node built-ins there.
    files: ['src/console/page/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['node:*'] }] },
  },
  {
    files: ['src/cli/**', 'bench/**', 'native-bench/**', 'scripts/**', 'packages/*/scripts/**', 'examples/**', 'test/**'],
    rules: { 'no-console': 'off' },
  },
);
