import { ChildProcess, fork } from 'child_process';
import * as path from 'path';
import { DatasetError } from './datasets/dataset';
import type { BackendSelection } from './backend';
import type {
  ChildMessage,
  JobMessage,
  ProbeMessage,
  SerializedError,
  StandaloneChildOptions,
  SupernetChildOptions,
} from './child-messages';
import type { ProxyTrainingRequest, ProxyTrainingResult, TrainingProgress } from './request';
import type {
  SupernetCheckpoint,
  SupernetTrainingProgress,
  SupernetTrainingRequest,
  SupernetTrainingResult,
} from './supernet/train-supernet';
import type { SubnetScoringRequest, SubnetScoringResult } from './supernet/score-subnets';
import { TrainingAbortedError, TrainingRequestError } from './errors';

export interface ChildTrainingOptions extends StandaloneChildOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: TrainingProgress) => void;
  readonly onCheckpoint?: (checkpoint: { readonly step: number; readonly path: string }) => void;
  readonly onResumeRefused?: (reason: string) => void;
  /** Extra environment for the child (merged over this process's and `TRAINING_PROCESS_ENV`). */
  readonly env?: NodeJS.ProcessEnv;
}

interface ChildJobOptions {
  readonly signal?: AbortSignal;
  readonly env?: NodeJS.ProcessEnv;
  /** Every message but the result and the error; returns the step reached, if the message tells it. */
  readonly onMessage?: (message: ChildMessage) => number | undefined;
}

/** The child process died (crash, out of memory, killed) before reporting a result. */
export class TrainingProcessError extends Error {
  override name = 'TrainingProcessError';
}

/** Errors that a retry cannot fix (bad request, dataset or architecture). */
export function isNonRetryableTrainingError(err: unknown): boolean {
  return (
    err instanceof Error &&
    [
      'TrainingRequestError',
      'DatasetError',
      'DatasetPathError',
      'ArchitectureError',
      'SupernetError',
    ].includes(err.name)
  );
}

function revive(e: SerializedError): Error {
  let err: Error;
  if (e.name === 'TrainingRequestError') err = new TrainingRequestError(e.message);
  else if (e.name === 'DatasetError') err = new DatasetError(e.message);
  else {
    err = new Error(e.message);
    err.name = e.name;
  }
  if (e.stack) err.stack = `${err.name}: ${e.message}\n    (in the training child process)\n${e.stack}`;
  return err;
}

/**
 * How to start the child: the compiled `.js` entry beside this file, or under ts-node (jest, development)
 * the `.ts` entry with the TypeScript and path-alias hooks.
 */
function childEntry(name = 'training-child'): {
  modulePath: string;
  execArgv: string[];
  env: NodeJS.ProcessEnv;
} {
  const ext = path.extname(__filename);
  const modulePath = path.join(__dirname, `${name}${ext}`);
  if (ext !== '.ts') return { modulePath, execArgv: [], env: {} };
  return {
    modulePath,
    execArgv: ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register'],
    env: { TS_NODE_PROJECT: path.resolve(__dirname, '../../../tsconfig.json') },
  };
}

const STDERR_TAIL = 4000;

/**
 * Environment of a training process. Thread policy: one TensorFlow intra-op and one inter-op thread
 * (libtensorflow reads these when tfjs-node loads; wasm runs one thread anyway), and one training process per
 * core; bench/proxy-training.ts measures this against one process with 2 threads. TensorFlow's info lines
 * (CPU features) stay out of the stderr tail kept for errors.
 */
export const TRAINING_PROCESS_ENV: Readonly<Record<string, string>> = {
  TF_NUM_INTRAOP_THREADS: '1',
  TF_NUM_INTEROP_THREADS: '1',
  TF_CPP_MIN_LOG_LEVEL: '1',
};

/**
 * Runs one job in a forked Node process: CPU-bound training never blocks this process's event loop (a
 * Temporal worker must keep heartbeating and see cancellation). Messages and the result come over IPC;
 * aborting kills the child; a child that dies without a result rejects with `TrainingProcessError` carrying
 * its exit status and the tail of its stderr.
 */
function runInChildProcess<R>(job: JobMessage, options: ChildJobOptions): Promise<R> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(new TrainingAbortedError(0));
  const entry = childEntry();
  return new Promise<R>((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = fork(entry.modulePath, [], {
        execArgv: entry.execArgv,
        env: { ...process.env, ...TRAINING_PROCESS_ENV, ...entry.env, ...options.env },
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        serialization: 'advanced',
      });
    } catch (err) {
      reject(new TrainingProcessError(`cannot start the training process: ${(err as Error).message}`));
      return;
    }
    let settled = false;
    let lastStep = 0;
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL);
    });
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      outcome();
    };
    const onAbort = () => {
      child.kill('SIGKILL');
      finish(() => reject(new TrainingAbortedError(lastStep)));
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    child.on('message', (message: ChildMessage) => {
      if (message.type === 'result') finish(() => resolve(message.result as R));
      else if (message.type === 'error') finish(() => reject(revive(message.error)));
      else if (!settled) lastStep = options.onMessage?.(message) ?? lastStep;
    });
    child.on('error', (err) => {
      child.kill('SIGKILL');
      finish(() => reject(new TrainingProcessError(`training process failed: ${err.message}`)));
    });
    // 'close' (not 'exit'): fires after the IPC channel drained, so a result sent just before exiting is seen.
    child.on('close', (code, sig) => {
      const tail = stderr.trim().split('\n').slice(-8).join('\n');
      finish(() =>
        reject(
          new TrainingProcessError(
            `training process exited ${sig ? `on signal ${sig}` : `with code ${code}`} before reporting a result` +
              ` (at step ${lastStep})${tail ? `; stderr:\n${tail}` : ''}`,
          ),
        ),
      );
    });
    child.send(job);
  });
}

/** `trainProxy` in a child process (see `runInChildProcess`). */
export function trainInChildProcess(
  request: ProxyTrainingRequest,
  options: ChildTrainingOptions = {},
): Promise<ProxyTrainingResult> {
  const { signal, env, onProgress, onCheckpoint, onResumeRefused, ...files } = options;
  return runInChildProcess<ProxyTrainingResult>(
    { type: 'train', request, options: files },
    {
      signal,
      env,
      onMessage: (m) => {
        if (m.type === 'progress') {
          onProgress?.(m.progress);
          return m.progress.step;
        }
        if (m.type === 'checkpoint') onCheckpoint?.(m.checkpoint);
        if (m.type === 'resume-refused') onResumeRefused?.(m.reason);
        return undefined;
      },
    },
  );
}

export interface ChildSupernetOptions extends SupernetChildOptions {
  readonly signal?: AbortSignal;
  readonly env?: NodeJS.ProcessEnv;
  readonly onProgress?: (progress: SupernetTrainingProgress) => void;
  readonly onCheckpoint?: (checkpoint: SupernetCheckpoint) => void;
  readonly onResumeRefused?: (reason: string) => void;
}

/** `trainSupernet` in a child process; checkpoints are reported as they are written. */
export function trainSupernetInChildProcess(
  request: SupernetTrainingRequest,
  options: ChildSupernetOptions,
): Promise<SupernetTrainingResult> {
  const { signal, env, onProgress, onCheckpoint, onResumeRefused, ...files } = options;
  return runInChildProcess<SupernetTrainingResult>(
    { type: 'train-supernet', request, options: files },
    {
      signal,
      env,
      onMessage: (m) => {
        if (m.type === 'supernet-progress') {
          onProgress?.(m.progress);
          return m.progress.step;
        }
        if (m.type === 'checkpoint') onCheckpoint?.(m.checkpoint);
        if (m.type === 'resume-refused') onResumeRefused?.(m.reason);
        return undefined;
      },
    },
  );
}

/** `scoreSubnets` in a child process. */
export function scoreSubnetsInChildProcess(
  request: SubnetScoringRequest,
  options: {
    signal?: AbortSignal;
    env?: NodeJS.ProcessEnv;
    onProgress?: (done: number, total: number) => void;
  } = {},
): Promise<SubnetScoringResult> {
  return runInChildProcess<SubnetScoringResult>(
    { type: 'score-subnets', request },
    {
      signal: options.signal,
      env: options.env,
      onMessage: (m) => {
        if (m.type !== 'scoring-progress') return undefined;
        options.onProgress?.(m.done, m.total);
        return m.done;
      },
    },
  );
}

/**
 * The backend a training process started now would use (`auto`, the training processes' environment), found
 * in a short-lived child so that TensorFlow is never loaded into the caller. Rejects only when that child
 * cannot run.
 */
export function probeTrainingBackend(options: { env?: NodeJS.ProcessEnv } = {}): Promise<BackendSelection> {
  const entry = childEntry('backend-probe');
  return new Promise<BackendSelection>((resolve, reject) => {
    let settled = false;
    let stderr = '';
    const child = fork(entry.modulePath, [], {
      execArgv: entry.execArgv,
      env: { ...process.env, ...TRAINING_PROCESS_ENV, ...entry.env, ...options.env },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL);
    });
    child.on('message', (message: ProbeMessage) => {
      settled = true;
      if (message.type === 'backend') resolve(message.selection);
      else reject(new TrainingProcessError(`backend probe failed: ${message.message}`));
    });
    child.on('error', (err) => {
      if (!settled) reject(new TrainingProcessError(`cannot start the backend probe: ${err.message}`));
      settled = true;
    });
    child.on('close', (code) => {
      if (!settled) {
        reject(
          new TrainingProcessError(
            `backend probe exited with code ${code}: ${stderr.trim().split('\n').pop() ?? ''}`,
          ),
        );
      }
      settled = true;
    });
  });
}
