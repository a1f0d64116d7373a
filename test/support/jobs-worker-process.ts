import { ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { spawnTypeScript } from './ts-process';

export interface WorkerProcessOptions {
  readonly temporalAddress: string;
  readonly databaseUrl: string;
  readonly dataDir: string;
  /** Appended to (stdout and stderr of the worker). */
  readonly logFile: string;
  readonly queues?: string;
  readonly trainingConcurrency?: number;
  readonly verificationTimeoutSeconds?: number;
  readonly finalVerificationTimeoutSeconds?: number;
  readonly supernetCheckpointSeconds?: number;
  readonly finalCheckpointSeconds?: number;
}

export interface WorkerProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves once the worker logged its start (workflow bundle built, polling). */
  readonly ready: Promise<void>;
  /** SIGKILL, no clean-up: what a crashed machine looks like. */
  kill9(): Promise<void>;
  /** SIGTERM and wait for a graceful exit. */
  stop(): Promise<number | null>;
  log(): string;
}

/** The worker as its own OS process, from the TypeScript sources (see spawnTypeScript). */
export function spawnWorkerProcess(opts: WorkerProcessOptions): WorkerProcess {
  const args = [
    '--queues',
    opts.queues ?? 'light,training',
    '--training-concurrency',
    String(opts.trainingConcurrency ?? 2),
    '--verification-timeout',
    String(opts.verificationTimeoutSeconds ?? 10),
    ...(opts.finalVerificationTimeoutSeconds !== undefined
      ? ['--final-verification-timeout', String(opts.finalVerificationTimeoutSeconds)]
      : []),
    '--supernet-checkpoint-interval',
    String(opts.supernetCheckpointSeconds ?? 20),
    '--final-checkpoint-interval',
    String(opts.finalCheckpointSeconds ?? 20),
  ];
  const child = spawnTypeScript('apps/worker/src/main.ts', args, {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: opts.temporalAddress,
      TEMPORAL_NAMESPACE: 'default',
      DATABASE_URL: opts.databaseUrl,
      EDGENAS_DATA_DIR: opts.dataDir,
      // JSON lines whatever the caller's environment says: tests read them
      EDGENAS_LOG_FORMAT: 'json',
      EDGENAS_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = createWriteStream(opts.logFile, { flags: 'a' });
  child.stdout?.pipe(out, { end: false });
  child.stderr?.pipe(out, { end: false });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const ready = new Promise<void>((resolveReady, reject) => {
    let seen = '';
    const onData = (d: Buffer): void => {
      seen += d.toString();
      if (workerLogLines(seen).some((l) => l.msg === 'worker started')) {
        child.stdout?.off('data', onData);
        resolveReady();
      }
    };
    child.stdout?.on('data', onData);
    void exited.then((code) => reject(new Error(`worker exited (${code}) before it was ready:\n${tail()}`)));
  });
  ready.catch(() => undefined);
  const tail = (): string => {
    try {
      return readFileSync(opts.logFile, 'utf8').slice(-4000);
    } catch {
      return '';
    }
  };
  return {
    pid: child.pid as number,
    child,
    ready,
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    log: tail,
  };
}

/** The worker's JSON log lines in `text` (complete lines only; anything else is left out). */
export function workerLogLines(text: string): Record<string, unknown>[] {
  return text.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/** Pids of live processes whose parent is `pid` (Linux /proc). */
export function childPids(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return text ? text.split(/\s+/).map(Number) : [];
  } catch {
    return [];
  }
}

/** Whether a process exists (and is not a zombie). */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}
