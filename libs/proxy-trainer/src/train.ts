import * as tf from '@tensorflow/tfjs-core';
import { getMacroConfig, parseArchitecture, withGeometry } from '@edgenas/search-space';
import { graphCost, lowerArchitecture } from '@edgenas/search-space/graph';
import { initWeights } from '@edgenas/search-space/weights';
import { buildTfjsNetwork, TfjsNetwork } from '@edgenas/search-space/tfjs';
import { selectBackend } from './backend';
import { Dataset, DatasetSplit, imageSize, loadDataset } from './datasets';
import { Optimizer, cosineLearningRate, createOptimizer } from './optimizer';
import { augmentBatch } from './augment';
import { createRandom, mixSeed, shuffledIndices } from './random';
import { StandaloneCheckpoint, checkpointFingerprint, readCheckpoint, writeCheckpoint } from './checkpoint';
import { TeacherLogits, readTeacherLogits, writeWeightsFile } from './tensor-file';
import type {
  DistillationRequest,
  ProxyTrainingRequest,
  ProxyTrainingResult,
  TrainingProgress,
} from './request';
import { lossCurveRecorder } from './loss-curve';
import { TrainingAbortedError, TrainingRequestError } from './errors';

export interface TrainProxyOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: TrainingProgress) => void;
  /** An already loaded dataset (must match the request's resolution); skips loading. */
  readonly dataset?: Dataset;
  /** Where the trained weights (canonical layouts, BN statistics recalibrated) are written. */
  readonly weightsPath?: string;
  /** Where checkpoints are written (none without it). */
  readonly checkpointPath?: string;
  /** A checkpoint of this request to continue from; an unusable one is reported and training starts at 0. */
  readonly resumeFrom?: string;
  /** Checkpoint at least this often (default 30 s) … */
  readonly checkpointIntervalMs?: number;
  /** … or every this many steps, whichever comes first (default: never by count). */
  readonly checkpointEverySteps?: number;
  readonly onCheckpoint?: (checkpoint: { readonly step: number; readonly path: string }) => void;
  /** Called when `resumeFrom` could not be used (why). */
  readonly onResumeRefused?: (reason: string) => void;
}

const DEFAULT_SPACE = 'proxy-28';
const EVAL_BATCH = 256;
/** Measured on Fashion-MNIST at the proxy geometry: 1e-2 reached loss 1.2 in 60 steps where 3e-3 reached 1.8. */
const DEFAULT_ADAM_LR = 1e-2;
const DEFAULT_SGD_LR = 0.1;
/** Stream of the per-step augmentation draws (mixed with seed and step, so a resumed run draws the same). */
const AUGMENT_STREAM = 4;

/**
 * One optimisation step on a batch: the network in training mode, softmax cross-entropy against one-hot
 * `labels` (with optional label smoothing), gradients of every trainable variable, one optimizer update.
 * Returns the batch loss. `updateStatistics: false` skips BN's moving-statistics update (when they are
 * recalibrated before evaluation anyway).
 */
export function trainingStep(
  net: TfjsNetwork,
  optimizer: Optimizer,
  x: tf.Tensor4D,
  labels: tf.Tensor2D,
  learningRate: number,
  labelSmoothing = 0,
  options: {
    readonly updateStatistics?: boolean;
    /** The batch's teacher logits and the distillation settings (see `distillationLoss`). */
    readonly distillation?: {
      readonly teacherLogits: tf.Tensor2D;
      readonly temperature: number;
      readonly weight: number;
    };
  } = {},
): number {
  return tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => {
      const logits = net.apply(x, { training: true, updateStatistics: options.updateStatistics });
      const d = options.distillation;
      return d
        ? distillationLoss(labels, logits, d.teacherLogits, d.temperature, d.weight, labelSmoothing)
        : (tf.losses.softmaxCrossEntropy(labels, logits, undefined, labelSmoothing) as tf.Scalar);
    }, net.variables);
    optimizer.step(grads, learningRate);
    return value.dataSync()[0];
  });
}

/**
 * Knowledge-distillation loss of a batch (Hinton et al., 2015): (1 − α)·CE(labels, student) +
 * α·T²·KL(softmax(teacher/T) ‖ softmax(student/T)), each term the mean over the batch. The KL term is the
 * cross-entropy against the softened teacher minus the teacher's entropy (a constant: the teacher carries no
 * gradient), so its value is 0 when the student matches the teacher.
 */
export function distillationLoss(
  labels: tf.Tensor2D,
  studentLogits: tf.Tensor2D,
  teacherLogits: tf.Tensor2D,
  temperature: number,
  weight: number,
  labelSmoothing = 0,
): tf.Scalar {
  return tf.tidy(() => {
    const hard = tf.losses.softmaxCrossEntropy(labels, studentLogits, undefined, labelSmoothing) as tf.Scalar;
    const teacher = tf.div(teacherLogits, temperature);
    const soft = tf.softmax(teacher) as tf.Tensor2D;
    const crossEntropy = tf.losses.softmaxCrossEntropy(soft, tf.div(studentLogits, temperature)) as tf.Scalar;
    const entropy = tf.neg(tf.mean(tf.sum(tf.mul(soft, tf.logSoftmax(teacher)), 1)));
    const kl = tf.sub(crossEntropy, entropy);
    return tf.add(tf.mul(hard, 1 - weight), tf.mul(kl, weight * temperature * temperature)) as tf.Scalar;
  });
}

function checkRequest(req: ProxyTrainingRequest): void {
  const positiveInt = (field: string, v: unknown) => {
    if (!Number.isInteger(v) || (v as number) < 1) {
      throw new TrainingRequestError(`${field} must be a positive integer, got ${String(v)}`);
    }
  };
  positiveInt('batchSize', req.batchSize);
  positiveInt('resolution', req.resolution);
  if (req.steps !== undefined) positiveInt('steps', req.steps);
  else if (!(typeof req.epochs === 'number' && req.epochs > 0)) {
    throw new TrainingRequestError(`epochs must be > 0 (or steps given), got ${String(req.epochs)}`);
  }
  if (req.labelSmoothing !== undefined && !(req.labelSmoothing >= 0 && req.labelSmoothing < 1)) {
    throw new TrainingRequestError(`labelSmoothing must be in [0, 1), got ${req.labelSmoothing}`);
  }
  if (req.bnMomentum !== undefined && !(req.bnMomentum >= 0 && req.bnMomentum < 1)) {
    throw new TrainingRequestError(`bnMomentum must be in [0, 1), got ${req.bnMomentum}`);
  }
  const d = req.distillation;
  if (d && !(Number.isFinite(d.temperature) && d.temperature > 0)) {
    throw new TrainingRequestError(`distillation.temperature must be > 0, got ${d.temperature}`);
  }
  if (d && !(d.weight >= 0 && d.weight <= 1)) {
    throw new TrainingRequestError(`distillation.weight must be in [0, 1], got ${d.weight}`);
  }
}

/** The teacher's logits for every training image, checked against the dataset they must describe. */
function teacherLogitsFor(d: DistillationRequest, data: Dataset): Float32Array {
  let logits: Float32Array;
  let classes = data.classes;
  if (typeof d.teacherLogits === 'string') {
    let file: TeacherLogits;
    try {
      file = readTeacherLogits(d.teacherLogits);
    } catch (err) {
      throw new TrainingRequestError(`distillation.teacherLogits: ${(err as Error).message}`);
    }
    logits = file.logits;
    classes = file.classes;
  } else {
    logits = d.teacherLogits;
  }
  if (classes !== data.classes || logits.length !== data.train.count * data.classes) {
    throw new TrainingRequestError(
      `distillation.teacherLogits: ${logits.length} logits of ${classes} classes do not cover the ` +
        `${data.train.count} training images of ${data.classes} classes`,
    );
  }
  return logits;
}

export function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/** Copies the images of `indices` into one NHWC batch. */
export function gatherBatch(
  split: DatasetSplit,
  indices: ArrayLike<number>,
  pixels: number,
): [Float32Array, Int32Array] {
  const images = new Float32Array(indices.length * pixels);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const src = indices[i];
    images.set(split.images.subarray(src * pixels, (src + 1) * pixels), i * pixels);
    labels[i] = split.labels[src];
  }
  return [images, labels];
}

/** Rows `indices` of a row-major matrix with `width` columns, copied into one array. */
function gatherRows(matrix: Float32Array, indices: ArrayLike<number>, width: number): Float32Array {
  const out = new Float32Array(indices.length * width);
  for (let i = 0; i < indices.length; i++) {
    out.set(matrix.subarray(indices[i] * width, (indices[i] + 1) * width), i * width);
  }
  return out;
}

/** Top-1 over the first `limit` images of `split`, in inference mode. */
export function evaluateTop1(net: TfjsNetwork, data: Dataset, split: DatasetSplit, limit: number): number {
  const pixels = imageSize(data);
  const count = Math.min(limit, split.count);
  let correct = 0;
  for (let start = 0; start < count; start += EVAL_BATCH) {
    const n = Math.min(EVAL_BATCH, count - start);
    const batch = split.images.subarray(start * pixels, (start + n) * pixels);
    const predicted = tf.tidy(() => {
      const x = tf.tensor4d(batch, [n, data.height, data.width, data.channels]);
      return tf.argMax(net.apply(x, { training: false }), 1).dataSync();
    });
    for (let i = 0; i < n; i++) if (predicted[i] === split.labels[start + i]) correct++;
  }
  return count === 0 ? 0 : correct / count;
}

/**
 * Replaces BN's moving statistics by the average of the batch statistics over `batches` training batches
 * (momentum (k−1)/k at the k-th batch gives the running mean), so evaluation never uses half-converged ones.
 */
export function recalibrateBatchNorm(
  net: TfjsNetwork,
  data: Dataset,
  batches: number,
  batchSize: number,
  seed: number,
) {
  const pixels = imageSize(data);
  const order = shuffledIndices(data.train.count, createRandom(seed ^ 0x5bd1e995));
  const size = Math.min(batchSize, data.train.count);
  for (let k = 0; k < batches && k * size < data.train.count; k++) {
    const [images] = gatherBatch(
      data.train,
      order.subarray(k * size, Math.min(data.train.count, (k + 1) * size)),
      pixels,
    );
    tf.tidy(() => {
      const x = tf.tensor4d(images, [images.length / pixels, data.height, data.width, data.channels]);
      net.apply(x, { training: true, bnMomentum: k / (k + 1) });
    });
  }
}

export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Trains one candidate on the proxy task and reports validation top-1. Builds the network with the search
 * space's tfjs builder on the proxy geometry (the request's macro config at `resolution` and the dataset's
 * channels and classes). Seeded: weights, batch order and split follow `seed`. With a checkpoint path it writes
 * checkpoints (weights and optimizer state) as it goes; given one of the same request, it continues from its
 * step with the same batches, augmentation and schedule, to the same result as a run never interrupted.
 */
export async function trainProxy(
  req: ProxyTrainingRequest,
  options: TrainProxyOptions = {},
): Promise<ProxyTrainingResult> {
  const started = performance.now();
  checkRequest(req);
  const { signal, onProgress } = options;
  if (signal?.aborted) throw new TrainingAbortedError(0);
  const backend = await selectBackend(req.backend ?? 'auto');
  const data =
    options.dataset ??
    loadDataset(req.dataset, {
      resolution: req.resolution,
      seed: req.seed,
      dataDir: req.dataDir,
      datasetRoots: req.datasetRoots,
    });
  if (data.height !== req.resolution || data.width !== req.resolution) {
    throw new TrainingRequestError(
      `dataset ${data.name} is ${data.height}x${data.width}, the request asks for resolution ${req.resolution}`,
    );
  }
  const config = withGeometry(getMacroConfig(req.space ?? DEFAULT_SPACE), {
    input: { height: data.height, width: data.width, channels: data.channels },
    classes: data.classes,
  });
  const arch = parseArchitecture(req.architecture, config);
  const graph = lowerArchitecture(arch, config);
  const cost = graphCost(graph);
  const pixels = imageSize(data);
  const batchSize = Math.min(req.batchSize, data.train.count);
  const stepsPerEpoch = Math.max(1, Math.floor(data.train.count / batchSize));
  const totalSteps = req.steps ?? Math.max(1, Math.round(req.epochs * stepsPerEpoch));
  const teacherLogits = req.distillation ? teacherLogitsFor(req.distillation, data) : undefined;
  const fingerprint = checkpointFingerprint(req);
  let resumed: StandaloneCheckpoint | undefined;
  if (options.resumeFrom) {
    try {
      const c = readCheckpoint(options.resumeFrom, fingerprint);
      if (c.totalSteps !== totalSteps || c.step > totalSteps) {
        throw new Error(
          `the checkpoint is at step ${c.step} of ${c.totalSteps}, this run has ${totalSteps} steps`,
        );
      }
      resumed = c;
    } catch (err) {
      options.onResumeRefused?.((err as Error).message);
    }
  }
  const startStep = resumed?.step ?? 0;
  const net = buildTfjsNetwork(graph, resumed?.weights ?? initWeights(graph, req.seed), {
    bnMomentum: req.bnMomentum ?? 0.9,
  });
  const kind = req.optimizer ?? 'adam';
  let optimizer: Optimizer;
  try {
    optimizer = createOptimizer(
      net.variables,
      { kind, momentum: req.momentum, weightDecay: req.weightDecay },
      resumed?.optimizer,
    );
  } catch (err) {
    net.dispose();
    throw err;
  }
  const peakLr = req.learningRate ?? (kind === 'adam' ? DEFAULT_ADAM_LR : DEFAULT_SGD_LR);
  const labelSmoothing = req.labelSmoothing ?? 0;
  const progressInterval = req.progressIntervalMs ?? 2000;

  const random = createRandom(req.seed);
  const warmup = Math.min(Math.round(totalSteps * 0.05), 100);

  const recalibration = req.bnRecalibrationBatches ?? 8;
  const lossCurve = lossCurveRecorder(totalSteps);
  let reportLoss = 0;
  let reportSteps = 0;
  let trainMs = 0;
  let lastReport = performance.now();
  let lastReportedStep = -1;
  let order = shuffledIndices(data.train.count, random);
  // A resumed run replays the shuffles of the epochs it skips: the same stream, so the same batches follow.
  for (let s = stepsPerEpoch; s < startStep; s += stepsPerEpoch)
    order = shuffledIndices(data.train.count, random);
  let lastCheckpoint = performance.now();
  const checkpoint = (step: number, file: string) => {
    writeCheckpoint(file, fingerprint, {
      step,
      totalSteps,
      weights: net.exportWeights(),
      optimizer: optimizer.exportState(),
    });
    lastCheckpoint = performance.now();
    options.onCheckpoint?.({ step, path: file });
  };
  const report = (step: number) => {
    const ms = performance.now() - started;
    onProgress?.({
      step,
      totalSteps,
      epoch: step / stepsPerEpoch,
      loss: reportSteps > 0 ? reportLoss / reportSteps : NaN,
      imagesPerSecond: trainMs > 0 ? ((step - startStep) * batchSize * 1000) / trainMs : 0,
      elapsedMs: ms,
    });
    reportLoss = 0;
    reportSteps = 0;
    lastReport = performance.now();
    lastReportedStep = step;
  };

  try {
    for (let step = startStep; step < totalSteps; step++) {
      // Abort events and IPC messages are delivered between steps.
      await yieldToEventLoop();
      if (signal?.aborted) throw new TrainingAbortedError(step);
      const inEpoch = step % stepsPerEpoch;
      if (inEpoch === 0 && step > 0) order = shuffledIndices(data.train.count, random);
      const batchIndices = order.subarray(inEpoch * batchSize, (inEpoch + 1) * batchSize);
      const [images, labels] = gatherBatch(data.train, batchIndices, pixels);
      if (req.augmentation) {
        augmentBatch(
          images,
          labels.length,
          data,
          req.augmentation,
          createRandom(mixSeed(req.seed, AUGMENT_STREAM, step)),
        );
      }
      const t0 = performance.now();
      const loss = tf.tidy(() => {
        const x = tf.tensor4d(images, [labels.length, data.height, data.width, data.channels]);
        const y = tf.oneHot(tf.tensor1d(labels, 'int32'), data.classes) as tf.Tensor2D;
        const lr = cosineLearningRate(step, totalSteps, peakLr, warmup);
        const distillation =
          teacherLogits && req.distillation
            ? {
                teacherLogits: tf.tensor2d(gatherRows(teacherLogits, batchIndices, data.classes), [
                  labels.length,
                  data.classes,
                ]),
                temperature: req.distillation.temperature,
                weight: req.distillation.weight,
              }
            : undefined;
        // Recalibration replaces the moving statistics before evaluation: no need to keep them up to date.
        return trainingStep(net, optimizer, x, y, lr, labelSmoothing, {
          updateStatistics: recalibration === 0,
          distillation,
        });
      });
      trainMs += performance.now() - t0;
      if (!Number.isFinite(loss)) throw new Error(`proxy training diverged: loss ${loss} at step ${step}`);
      lossCurve.add(step, loss);
      reportLoss += loss;
      reportSteps++;
      if (step === startStep || performance.now() - lastReport >= progressInterval) report(step + 1);
      const done = step + 1;
      const byCount = options.checkpointEverySteps !== undefined && done % options.checkpointEverySteps === 0;
      const byTime = performance.now() - lastCheckpoint >= (options.checkpointIntervalMs ?? 30_000);
      if (options.checkpointPath && done < totalSteps && (byCount || byTime))
        checkpoint(done, options.checkpointPath);
    }
    if (lastReportedStep !== totalSteps) report(totalSteps);
    if (signal?.aborted) throw new TrainingAbortedError(totalSteps);
    if (recalibration > 0) recalibrateBatchNorm(net, data, recalibration, batchSize, req.seed);
    const valAccuracy = evaluateTop1(net, data, data.val, data.val.count);
    const trainAccuracy = evaluateTop1(net, data, data.train, data.val.count);
    if (options.weightsPath) {
      writeWeightsFile(options.weightsPath, net.exportWeights(), {
        architecture: req.architecture,
        geometry: config.name,
      });
    }
    return {
      architecture: req.architecture,
      geometry: config.name,
      dataset: data.name,
      valAccuracy,
      trainAccuracy,
      lossCurve: lossCurve.points,
      imagesPerSecond: trainMs > 0 ? ((totalSteps - startStep) * batchSize * 1000) / trainMs : 0,
      wallTimeMs: performance.now() - started,
      steps: totalSteps,
      resumedFromStep: startStep,
      epochs: (totalSteps * batchSize) / data.train.count,
      backend,
      peakRssBytes: peakRssBytes(),
      params: cost.params,
      macs: cost.macs,
    };
  } finally {
    optimizer.dispose();
    net.dispose();
  }
}
