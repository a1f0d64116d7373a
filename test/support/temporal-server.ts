import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Connection } from '@temporalio/client';

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
  const child: ChildProcess = spawn(
    TEMPORAL_CLI,
    [
      'server',
      'start-dev',
      '--headless',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--db-filename',
      join(dir, 'temporal.db'),
      '--log-level',
      'error',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const address = `127.0.0.1:${port}`;
  const namespace = 'default';
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`temporal dev server exited with ${child.exitCode}: ${stderr}`);
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        break;
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`temporal dev server on ${address} not ready after ${timeoutMs} ms: ${String(err)}`);
      }
      await new Promise((r) => setTimeout(r, 300));
    }
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
