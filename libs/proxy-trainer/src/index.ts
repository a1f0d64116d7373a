// Proxy training with TensorFlow.js: backend selection, wasm gradient kernels, datasets, the training loop and
// a child-process runner. Node-only (fs, child_process, tfjs); never imported by workflow code.
export * from './backend';
export * from './datasets';
export * from './request';
export { TrainingAbortedError, TrainingRequestError } from './errors';
export { distillationLoss, trainProxy, trainingStep } from './train';
export type { TrainProxyOptions } from './train';
export {
  registerBatchNormGradient,
  registerTrainingKernels,
  registerWasmGradientKernels,
} from './training-kernels';
export { createRandom, mixSeed, shuffledIndices } from './random';
export * from './augment';
export * from './tensor-file';
export type { Random } from './random';
export {
  TRAINING_PROCESS_ENV,
  TrainingProcessError,
  isNonRetryableTrainingError,
  scoreSubnetsInChildProcess,
  trainInChildProcess,
  trainSupernetInChildProcess,
} from './child-process';
export type { ChildSupernetOptions, ChildTrainingOptions } from './child-process';
export { LIGHT_ARCHITECTURE, REFERENCE_ARCHITECTURE } from './reference-architectures';
export { cosineLearningRate, createOptimizer } from './optimizer';
export type { Optimizer, OptimizerOptions, OptimizerState } from './optimizer';
export {
  registerTensorflowTrainingKernels,
  unregisterTensorflowBatchNormKernels,
} from './tensorflow-kernels';
export * from './supernet';
export { evaluateTop1, gatherBatch, recalibrateBatchNorm } from './train';
