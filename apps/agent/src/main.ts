import { main } from './cli';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`edgenas-agent: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
