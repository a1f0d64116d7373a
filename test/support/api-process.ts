import { ChildProcess } from 'node:child_process';
import { spawnTypeScript } from './ts-process';

export interface ApiProcessOptions {
  readonly port: number;
  readonly databaseUrl: string;
  readonly apiKey: string;
  readonly dataDir: string;
  /** Jobs are not used where this runs: the API connects to Temporal lazily. */
  readonly temporalAddress?: string;
}

/** The API as its own OS process (from the TypeScript sources), so that kill -9 is real. */
export interface ApiProcess {
  readonly pid: number;
  readonly url: string;
  /** SIGKILL, no clean-up. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
  output(): string;
}

/** Starts the API and waits until it listens. */
export async function startApiProcess(opts: ApiProcessOptions, timeoutMs = 120_000): Promise<ApiProcess> {
  const child: ChildProcess = spawnTypeScript('apps/api/src/main.ts', [], {
    env: {
      ...process.env,
      PORT: String(opts.port),
      DATABASE_URL: opts.databaseUrl,
      EDGENAS_API_KEYS: opts.apiKey,
      EDGENAS_DATA_DIR: opts.dataDir,
      TEMPORAL_ADDRESS: opts.temporalAddress ?? '127.0.0.1:1',
      TEMPORAL_NAMESPACE: 'default',
      EDGENAS_LOG_FORMAT: 'json',
      EDGENAS_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise<void>((resolveListening, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the API did not listen within ${timeoutMs} ms:\n${output.slice(-3000)}`)),
      timeoutMs,
    );
    const onData = (d: Buffer): void => {
      output += d.toString();
      if (output.includes('EdgeNAS API listening')) {
        clearTimeout(timer);
        resolveListening();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the API exited before it listened:\n${output.slice(-3000)}`));
    });
  });
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    pid: child.pid as number,
    url: `http://127.0.0.1:${opts.port}`,
    async kill9() {
      if (running()) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (!running()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
    output: () => output,
  };
}
