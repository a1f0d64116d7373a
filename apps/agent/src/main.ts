import { main } from './cli';

main(process.argv.slice(2), {
  out: (l) => process.stdout.write(l + '\n'),
  err: (l) => process.stderr.write(l + '\n'),
  env: process.env,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`edgenas-agent: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
