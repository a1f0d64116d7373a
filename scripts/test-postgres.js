#!/usr/bin/env node
// `npm run test:postgres`: the suites that touch the database (storage, API, jobs, final models) again, on
// PostgreSQL.
// POSTGRES_TEST_URL names a role that may create databases and a database it connects to for that: every suite
// creates databases of its own and drops them after. As root on Debian, scripts/ci-postgres.sh sets one up and
// prints its URL. Extra arguments go to jest.
const { spawnSync } = require('child_process');

const SUITES = [
  'libs/storage/src/storage.spec.ts',
  'test/api-', // every API suite
  'test/jobs.e2e-spec.ts',
  'test/supernet-jobs.e2e-spec.ts',
  'test/final-models.e2e-spec.ts',
];

if (!/^postgres(ql)?:\/\//.test(process.env.POSTGRES_TEST_URL ?? '')) {
  console.error(
    'test:postgres: set POSTGRES_TEST_URL=postgres://user:pass@host:5432/db (a role that may create databases)',
  );
  process.exit(2);
}
const jest = require.resolve('jest/bin/jest');
const run = spawnSync(process.execPath, [jest, '--maxWorkers=2', ...SUITES, ...process.argv.slice(2)], {
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
