import type { LossPoint } from './request';

/** At most this many points per curve: a long run's losses are averaged over equal runs of steps. */
const MAX_LOSS_POINTS = 100;

/**
 * The loss curve of a training of `totalSteps` steps: `add` each step's loss; every ⌈total/100⌉ steps (and at
 * the last step) the mean of those steps becomes one point.
 */
export function lossCurveRecorder(totalSteps: number): {
  readonly points: LossPoint[];
  add(step: number, loss: number): void;
} {
  const points: LossPoint[] = [];
  const every = Math.max(1, Math.ceil(totalSteps / MAX_LOSS_POINTS));
  let sum = 0;
  let count = 0;
  return {
    points,
    add(step, loss) {
      sum += loss;
      count++;
      if (count === every || step === totalSteps - 1) {
        points.push({ step: step + 1, loss: sum / count });
        sum = 0;
        count = 0;
      }
    },
  };
}
