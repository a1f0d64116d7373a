import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { devServerArgs } from '../../apps/launcher/src/config';
import { temporalAnswers, waitUntil } from '../../apps/launcher/src/wait';

/** The Temporal CLI the project's postinstall puts under the repository root (found from sources or dist/). */
export const TEMPORAL_CLI = findTemporalCli(__dirname);

function findTemporalCli(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, '.tools', 'bin', 'temporal');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return resolve(from, '..', '..', '.tools', 'bin', 'temporal');
  }
}

export interface TemporalDevServer {
  readonly address: string;
  readonly namespace: string;
  stop(): Promise<void>;
}

/**
 * Starts a real `temporal server start-dev` (SQLite file in a fresh temp dir) on the given port and waits until
 * the default namespace answers.
 */
export async function startTemporalDevServer(port: number, timeoutMs = 60_000): Promise<TemporalDevServer> {
  const dir = mkdtempSync(join(tmpdir(), 'edgenas-temporal-'));
  const namespace = 'default';
  const child: ChildProcess = spawn(
    TEMPORAL_CLI,
    devServerArgs({ dbFile: join(dir, 'temporal.db'), port, uiPort: null, namespace, ip: '127.0.0.1' }),
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const address = `127.0.0.1:${port}`;
  const died = new AbortController();
  child.once('exit', () => died.abort());
  try {
    await waitUntil(`temporal dev server on ${address}`, () => temporalAnswers(address, namespace), {
      timeoutMs,
      intervalMs: 300,
      signal: died.signal,
    });
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    const exited = child.exitCode !== null ? ` (exited with ${child.exitCode}: ${stderr})` : '';
    throw new Error(`${(err as Error).message}${exited}`);
  }
  return {
    address,
    namespace,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
