/**
 * How training activities run their work: heartbeats carrying progress (so a retried attempt knows where its
 * predecessor stopped, and which checkpoint it wrote), cancellation reported as such, and errors a retry cannot
 * fix failed non-retryably.
 */
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import * as path from 'node:path';
import { isNonRetryableTrainingError } from '@edgenas/proxy-trainer/child-process';

/** Training progress carried in heartbeats, so a retry can say where its predecessor stopped. */
export interface TrainingProgress {
  readonly step: number;
  readonly loss: number;
  /**
   * Supernet and final training: the last checkpoint written (relative to the data dir), which a retried
   * attempt resumes from.
   */
  readonly checkpoint?: { readonly step: number; readonly file: string };
}

/** Heartbeat interval of training activities (the first step can take longer than the heartbeat timeout). */
const HEARTBEAT_EVERY_MS = 2000;

/** The result names its backend; the log says why when it is not native TensorFlow (a fallback). */
export function warnWithoutNativeTraining(
  ctx: Context,
  backend: { readonly name: string; readonly reason: string },
  architectureId: string,
): void {
  if (backend.name === 'tensorflow') return;
  ctx.log.warn('training ran without native TensorFlow', {
    architectureId,
    backend: backend.name,
    reason: backend.reason,
  });
}

/**
 * Runs a training activity's work with heartbeats: every progress report and a timer (the first step can take
 * longer than the heartbeat timeout), carrying the last progress so a retry can say where its predecessor
 * stopped. Cancellation is reported as such; errors a retry cannot fix fail non-retryably.
 */
export async function withTrainingContext<T>(
  what: string,
  work: (
    ctx: Context,
    beat: (progress: TrainingProgress) => void,
    current: () => TrainingProgress,
  ) => Promise<T>,
): Promise<T> {
  const ctx = Context.current();
  const previous = ctx.info.heartbeatDetails as TrainingProgress | undefined;
  if (previous) {
    ctx.log.info(`retrying ${what} after a lost attempt`, {
      attempt: ctx.info.attempt,
      previousStep: previous.step,
    });
  }
  let progress: TrainingProgress = {
    step: 0,
    loss: NaN,
    ...(previous?.checkpoint ? { checkpoint: previous.checkpoint } : {}),
  };
  const beat = (p: TrainingProgress) => {
    progress = p;
    ctx.heartbeat(progress);
  };
  beat(progress);
  const timer = setInterval(() => ctx.heartbeat(progress), HEARTBEAT_EVERY_MS);
  try {
    return await work(ctx, beat, () => progress);
  } catch (err) {
    // Cancellation (workflow cancel, worker shutdown) killed the training: report it as such.
    const reason: unknown = ctx.cancellationSignal.reason;
    if (ctx.cancellationSignal.aborted)
      throw reason instanceof CancelledFailure ? reason : new CancelledFailure('cancelled');
    // A bad request, dataset or architecture fails the same way on every attempt.
    if (isNonRetryableTrainingError(err)) {
      const e = err as Error;
      throw ApplicationFailure.nonRetryable(`${e.name}: ${e.message}`, e.name);
    }
    throw err;
  } finally {
    clearInterval(timer);
  }
}

/** Where training children read datasets from: the cache, and the roots image folders must lie under. */
export interface DatasetReading {
  readonly dataDir: string;
  readonly datasetRoots: readonly string[];
}

/** The worker's dataset reading: its data dir, and its dataset roots (default `<dataDir>/datasets`). */
export function datasetReadingOf(deps: {
  readonly dataDir: string;
  readonly datasetRoots?: readonly string[];
}): DatasetReading {
  return { dataDir: deps.dataDir, datasetRoots: deps.datasetRoots ?? [path.join(deps.dataDir, 'datasets')] };
}
