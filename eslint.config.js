import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'data/', 'backups/', 'reports/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      'no-console': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    // A server on JSON files never loads the PostgreSQL driver: only the driver itself imports `pg` and `umzug`, and
    // the composition root imports the driver, dynamically, for STORAGE=postgres (src/infra/storage/postgres/driver.ts).
    files: ['src/**/*.ts'],
    ignores: ['src/infra/storage/postgres/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'pg', message: 'Só o driver PostgreSQL importa pg.', allowTypeImports: true },
            { name: 'umzug', message: 'Só o driver PostgreSQL importa umzug.', allowTypeImports: true },
          ],
          patterns: [
            {
              group: ['**/storage/postgres/*'],
              message: 'O driver PostgreSQL só é carregado pela raiz de composição, com import() (src/infra/storage/postgres/driver.ts).',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
