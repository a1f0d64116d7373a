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
  /** The dev server's SQLite file: its workflows, histories and timers survive a restart. */
  readonly dbFile: string;
  /** SIGKILL, no clean-up: what a crashed machine looks like. The database file stays. */
  kill9(): Promise<void>;
  /** Starts the server again on the same port and database file (after kill9) and waits until it answers. */
  restart(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a real `temporal server start-dev` (SQLite file in a fresh temp dir, as the launcher runs it) on the
 * given port and waits until the default namespace answers.
 */
export async function startTemporalDevServer(port: number, timeoutMs = 60_000): Promise<TemporalDevServer> {
  const dir = mkdtempSync(join(tmpdir(), 'edgenas-temporal-'));
  const namespace = 'default';
  const dbFile = join(dir, 'temporal.db');
  const address = `127.0.0.1:${port}`;
  let child: ChildProcess;
  let exited: Promise<void>;

  const spawnAndWait = async (waitMs: number): Promise<void> => {
    const started = spawn(
      TEMPORAL_CLI,
      devServerArgs({ dbFile, port, uiPort: null, namespace, ip: '127.0.0.1' }),
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = started;
    let stderr = '';
    started.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const died = new AbortController();
    exited = new Promise<void>((r) =>
      started.once('exit', () => {
        died.abort();
        r();
      }),
    );
    try {
      await waitUntil(`temporal dev server on ${address}`, () => temporalAnswers(address, namespace), {
        timeoutMs: waitMs,
        intervalMs: 300,
        signal: died.signal,
      });
    } catch (err) {
      started.kill('SIGKILL');
      const exitedWith = started.exitCode !== null ? ` (exited with ${started.exitCode}: ${stderr})` : '';
      throw new Error(`${(err as Error).message}${exitedWith}`);
    }
  };
  const running = (): boolean => child.exitCode === null && child.signalCode === null;

  try {
    await spawnAndWait(timeoutMs);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    address,
    namespace,
    dbFile,
    async kill9() {
      if (running()) child.kill('SIGKILL');
      await exited;
    },
    async restart(waitMs = timeoutMs) {
      if (running()) throw new Error(`temporal dev server on ${address} is still running`);
      await spawnAndWait(waitMs);
    },
    async stop() {
      if (running()) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
