#!/usr/bin/env node
// `npm run test:loaded`: the jobs end-to-end suite with CPU-burning processes beside it, so a product timeout
// or a test wait that only holds on a quiet machine fails here, not on a user's busy one.
// EDGENAS_CPU_BURNERS sets how many burners run (default 2: as many as this project's CI machine has cores).
// Extra arguments go to jest.
const { spawn, spawnSync } = require('child_process');

const burnerCount = Number(process.env.EDGENAS_CPU_BURNERS ?? 2);
if (!Number.isInteger(burnerCount) || burnerCount < 0) {
  console.error(
    `test:loaded: EDGENAS_CPU_BURNERS must be a whole number ≥ 0 (got "${process.env.EDGENAS_CPU_BURNERS}")`,
  );
  process.exit(2);
}

const burners = [];
for (let i = 0; i < burnerCount; i += 1) {
  // A busy loop at normal priority: it competes for a core with the stack under test as any other job would.
  burners.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
}
const stopBurners = () => {
  for (const burner of burners) if (burner.exitCode === null) burner.kill('SIGKILL');
};
process.on('exit', stopBurners);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopBurners();
    process.exit(130);
  });
}

console.log(`test:loaded: ${burnerCount} CPU-burning processes beside the jobs suite`);
const jest = require.resolve('jest/bin/jest');
const run = spawnSync(
  process.execPath,
  [jest, '--runInBand', 'test/jobs.e2e-spec.ts', ...process.argv.slice(2)],
  {
    stdio: 'inherit',
  },
);
stopBurners();
process.exit(run.status ?? 1);
