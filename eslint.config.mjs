import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['**/vitest.config.ts', '**/dist/**', '**/node_modules/**', '**/build/**', '**/.nx/**', '**/*.js', '**/*.cjs', '**/*.mjs'],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'exit', message: 'Only the CLI ends the process.' },
      ],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: ['@oma/linux', '@oma/windows'],
          depConstraints: [
            { sourceTag: 'scope:core', onlyDependOnLibsWithTags: [] },
            { sourceTag: 'scope:platform', onlyDependOnLibsWithTags: ['scope:core'] },
            { sourceTag: 'scope:app', onlyDependOnLibsWithTags: ['scope:core', 'scope:app'] },
            // Tools may use each other (the benchmark drives the load generator), never a platform package.
            { sourceTag: 'scope:tool', onlyDependOnLibsWithTags: ['scope:core', 'scope:app', 'scope:tool'] },
            { sourceTag: 'scope:test', onlyDependOnLibsWithTags: ['scope:core', 'scope:app', 'scope:platform'] },
            { sourceTag: 'os:any', onlyDependOnLibsWithTags: ['os:any'] },
          ],
        },
      ],
    },
  },
  {
    // Core never chooses behaviour by OS: platform facts come through `Platform`, Node's own per-OS
    // semantics through platform/host-os.ts (STYLE.md §1.5).
    files: ['packages/core/src/**/*.ts'],
    ignores: ['packages/core/src/platform/host-os.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'exit', message: 'Only the CLI ends the process.' },
        { object: 'process', property: 'platform', message: 'Core does not branch on the OS: use the Platform given by the platform package, or platform/host-os.ts for Node file-system semantics.' },
      ],
    },
  },
  {
    files: ['packages/cli/**/*.ts', '**/*.test.ts', '**/test/**/*.ts', '**/bench/**/*.ts', 'tools/**/*.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['**/*.test.ts', '**/test/**/*.ts', '**/bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
