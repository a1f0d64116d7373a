import { ChildProcess, SpawnOptions, spawn } from 'node:child_process';
import { resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..');

/**
 * An app's TypeScript entry (e.g. `apps/worker/src/main.ts`) as its own OS process, through ts-node and the
 * tsconfig paths: the same program as its `dist/` build, without needing one.
 */
export function spawnTypeScript(
  entry: string,
  args: readonly string[],
  options: SpawnOptions & { env: NodeJS.ProcessEnv },
): ChildProcess {
  return spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', resolve(ROOT, entry), ...args],
    {
      cwd: ROOT,
      ...options,
      env: { ...options.env, TS_NODE_PROJECT: resolve(ROOT, 'tsconfig.json') },
    },
  );
}
