// Errors shared by the training loop and the child-process runner; kept apart from train.ts so that the runner
// (imported by light workers) does not load TensorFlow.js.

export class TrainingAbortedError extends Error {
  override name = 'TrainingAbortedError';
  constructor(readonly step: number) {
    super(`proxy training aborted at step ${step}`);
  }
}

export class TrainingRequestError extends Error {
  override name = 'TrainingRequestError';
}
