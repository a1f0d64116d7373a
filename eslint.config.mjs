import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

/**
 * Import boundaries (checked by `npm run lint`): apps never import other apps, libs never import apps (nor
 * Nest or Temporal: libraries are framework-free), and storage only stores (no predictors, no training).
 */
const APPS = ['api', 'worker', 'agent', 'launcher'];
const ANY_APP = { regex: '(^|/)apps/', message: 'libs never import apps: move what both need into a lib' };

/** `no-restricted-imports` for one app: no path into another app's folder. */
function appBoundary(app) {
  const others = APPS.filter((a) => a !== app).join('|');
  return {
    files: [`apps/${app}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^(\\.\\./)+(apps/)?(${others})(/|$)`,
              message: 'apps never import other apps: share it through a lib (contracts for wire types)',
            },
          ],
        },
      ],
    },
  };
}

const FRAMEWORKS = {
  regex: '^@(nestjs|temporalio)/',
  message: 'libs are framework-free: Nest and Temporal belong to the apps',
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.tools/**', '.edgenas/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        process: 'readonly',
        console: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // the dashboard: a browser module; d3 and Plot are globals from their UMD bundles
    files: ['apps/api/ui/**/*.mjs'],
    languageOptions: {
      sourceType: 'module',
      globals: {
        window: 'readonly',
        document: 'readonly',
        location: 'readonly',
        sessionStorage: 'readonly',
        fetch: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        console: 'readonly',
      },
    },
  },
  {
    files: ['libs/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'error' },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...APPS.map(appBoundary),
  {
    files: ['libs/**/*.ts'],
    ignores: ['libs/**/*.spec.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [ANY_APP, FRAMEWORKS] }],
      // libraries take configuration as parameters; apps' main.ts read the environment (libs/config)
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'libs take values as parameters, never from process.env',
        },
      ],
    },
  },
  {
    // spawns training processes with the inherited environment: passes it on, reads nothing from it
    files: ['libs/proxy-trainer/src/child-process.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['libs/**/*.spec.ts', 'libs/**/*.fixture.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [ANY_APP] }] },
  },
  {
    files: ['libs/storage/**/*.ts'],
    ignores: ['libs/storage/**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ANY_APP,
            FRAMEWORKS,
            {
              regex: '^@edgenas/(latency-predictor|proxy-trainer|search|device-benchmark|quantizer)(/|$)',
              message:
                'storage only stores: predictors, training and quantization build on the rows it returns',
            },
          ],
        },
      ],
    },
  },
);
