/**
 * Proxy training in a child process: tfjs steps are CPU-bound and synchronous, so they must not run on the
 * worker's event loop (which heartbeats, sees cancellation and serves workflow tasks).
 */
import { ChildProcess, fork } from 'node:child_process';
import type { ProxyTrainingRequest, ProxyTrainingResult, TrainingProgress } from '@edgenas/proxy-trainer';

/** Messages from the training child. */
export type TrainingChildMessage =
  | { readonly type: 'progress'; readonly progress: TrainingProgress }
  | { readonly type: 'result'; readonly result: ProxyTrainingResult }
  | { readonly type: 'error'; readonly name: string; readonly message: string };

export interface TrainingProcessOptions {
  /** Aborting kills the child (SIGTERM, then SIGKILL after `killGraceMs`) and rejects with TrainingCancelledError. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: TrainingProgress) => void;
  readonly killGraceMs?: number;
}

export class TrainingCancelledError extends Error {
  override name = 'TrainingCancelledError';
}

export class TrainingProcessError extends Error {
  override name = 'TrainingProcessError';
}

/** Pids of training children alive in this process (tests and shutdown look at them). */
export const liveTrainingPids = new Set<number>();

export function trainInChildProcess(
  request: ProxyTrainingRequest,
  options: TrainingProcessOptions = {},
): Promise<ProxyTrainingResult> {
  if (options.signal?.aborted)
    return Promise.reject(new TrainingCancelledError('training cancelled before start'));
  // Same module resolution as this process: the compiled .js next to this file, or the .ts under ts-node.
  const entry = require.resolve('./training-child');
  const child: ChildProcess = fork(entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  if (child.pid !== undefined) liveTrainingPids.add(child.pid);
  return new Promise<ProxyTrainingResult>((resolve, reject) => {
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = (): void => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), options.killGraceMs ?? 3000);
      finish(() => reject(new TrainingCancelledError('training cancelled')));
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('message', (msg: TrainingChildMessage) => {
      if (msg.type === 'progress') options.onProgress?.(msg.progress);
      else if (msg.type === 'result') finish(() => resolve(msg.result));
      else {
        const err = new TrainingProcessError(msg.message);
        err.name = msg.name;
        finish(() => reject(err));
      }
    });
    child.once('error', (err) => finish(() => reject(err)));
    child.once('exit', (code, signal) => {
      if (killTimer) clearTimeout(killTimer);
      if (child.pid !== undefined) liveTrainingPids.delete(child.pid);
      finish(() =>
        reject(
          new TrainingProcessError(`training process exited (${signal ?? `code ${code}`}) without a result`),
        ),
      );
    });
    child.send(request);
  });
}
