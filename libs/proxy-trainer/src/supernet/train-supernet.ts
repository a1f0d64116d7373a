/**
 * Training a weight-sharing supernet on the proxy geometry: each step builds the sampled path's network from
 * the bank (weights and Adam slots), takes one optimisation step and writes both back. Checkpoints go to
 * disk regularly; a run given a checkpoint continues from its step with the same batches and paths.
 */
import * as tf from '@tensorflow/tfjs-core';
import { getMacroConfig, withGeometry, BlockType, MacroConfig } from '@edgenas/search-space';
import { buildTfjsNetwork, fromTfjsLayout, toTfjsLayout, TfjsNetwork } from '@edgenas/search-space/tfjs';
import type { SupernetSampling } from '@edgenas/contracts';
import { BackendPreference, BackendSelection, selectBackend } from '../backend';
import { Dataset, DatasetSpec, imageSize, loadDataset } from '../datasets';
import { TrainingAbortedError, TrainingRequestError } from '../errors';
import { Optimizer, cosineLearningRate, createOptimizer } from '../optimizer';
import { createRandom, shuffledIndices } from '../random';
import type { LossPoint } from '../request';
import { lossCurveRecorder } from '../loss-curve';
import { gatherBatch, peakRssBytes, yieldToEventLoop } from '../train';
import { SupernetFileError, readSupernetFile, writeSupernetFile } from './artifact';
import { mixSeed, pathsForStep } from './sampling';
import { PathView, WeightBank } from './weight-bank';

export interface SupernetTrainingRequest {
  /** Macro config the supernet is laid on at the proxy resolution (default 'proxy-28'). */
  readonly space?: string;
  readonly dataset: DatasetSpec;
  /** Square proxy input resolution. */
  readonly resolution: number;
  readonly steps: number;
  readonly batchSize: number;
  readonly sampling: SupernetSampling;
  readonly seed: number;
  /** Restricts the blocks of the supernet (default: all of the space). */
  readonly blockTypes?: readonly BlockType[];
  /** Peak Adam learning rate of the cosine schedule (default 1e-2). */
  readonly learningRate?: number;
  /** Temperature of in-place distillation (sandwich sampling; default 1). */
  readonly distillationTemperature?: number;
  readonly backend?: BackendPreference;
  readonly dataDir?: string;
  /** Image folders must lie under these (see DatasetLoadOptions). */
  readonly datasetRoots?: readonly string[];
  /** Minimum interval between progress reports, ms (default 2000). */
  readonly progressIntervalMs?: number;
}

export interface SupernetTrainingProgress {
  readonly step: number;
  readonly totalSteps: number;
  /** Mean loss since the previous report. */
  readonly loss: number;
  readonly imagesPerSecond: number;
  readonly elapsedMs: number;
}

export interface SupernetCheckpoint {
  readonly step: number;
  readonly path: string;
}

export interface SupernetTrainingResult {
  /** Steps done: the request's steps, or `stopAtStep` when the run stopped there with a checkpoint. */
  readonly steps: number;
  /** The supernet is finished and written to the output path (else only the checkpoint holds it). */
  readonly complete: boolean;
  /** Step the run started from (0, or a checkpoint's). */
  readonly resumedFromStep: number;
  readonly sampling: SupernetSampling;
  readonly lossCurve: readonly LossPoint[];
  /** Images through forward+backward per second of training (all passes of a step count). */
  readonly imagesPerSecond: number;
  readonly wallTimeMs: number;
  readonly backend: BackendSelection;
  readonly peakRssBytes: number;
  /** Weights in the bank. */
  readonly bankSize: number;
  /** Of the finished file, or of the checkpoint when stopped early. */
  readonly sha256: string;
  readonly bytes: number;
}

export interface TrainSupernetOptions {
  /**
   * Stop after this many steps (of the whole run, counted from 0) with a checkpoint instead of finishing:
   * long trainings run as segments, each resuming from the previous one's checkpoint.
   */
  readonly stopAtStep?: number;
  /** Where the finished supernet is written (with its `.sha256`). */
  readonly outputPath: string;
  /** Checkpoint file (default `<outputPath>.ckpt`). */
  readonly checkpointPath?: string;
  /** A checkpoint to continue from; an unreadable one is reported and training starts at step 0. */
  readonly resumeFrom?: string;
  /** Checkpoint at least this often (default 30 s) … */
  readonly checkpointIntervalMs?: number;
  /** … or every this many steps, whichever comes first (default: never by count). */
  readonly checkpointEverySteps?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: SupernetTrainingProgress) => void;
  readonly onCheckpoint?: (checkpoint: SupernetCheckpoint) => void;
  /** Called when `resumeFrom` could not be used. */
  readonly onResumeRefused?: (reason: string) => void;
  readonly dataset?: Dataset;
}

const DEFAULT_LR = 1e-2;
const BATCH_ORDER_STREAM = 3;

/** The proxy geometry of a supernet: the space's macro config at the dataset's size, channels and classes. */
export function supernetConfig(
  space: string | undefined,
  data: Pick<Dataset, 'height' | 'width' | 'channels' | 'classes'>,
): MacroConfig {
  return withGeometry(getMacroConfig(space ?? 'proxy-28'), {
    input: { height: data.height, width: data.width, channels: data.channels },
    classes: data.classes,
  });
}

function checkRequest(req: SupernetTrainingRequest): void {
  for (const field of ['steps', 'batchSize', 'resolution'] as const) {
    const v = req[field];
    if (!Number.isInteger(v) || v < 1)
      throw new TrainingRequestError(`${field} must be a positive integer, got ${v}`);
  }
  if (!['uniform', 'fair', 'sandwich'].includes(req.sampling)) {
    throw new TrainingRequestError(`sampling must be uniform, fair or sandwich, got ${String(req.sampling)}`);
  }
}

/** A path's network and optimizer, built from the bank; `commit` writes both back and disposes them. */
interface PathSession {
  readonly net: TfjsNetwork;
  readonly optimizer: Optimizer;
  commit(): void;
  dispose(): void;
}

function openPath(bank: WeightBank, view: PathView, step: number): PathSession {
  const net = buildTfjsNetwork(view.graph, bank.gatherWeights(view), { bnMomentum: 0.9 });
  const trainable = view.mappings.filter((m) => m.spec.trainable);
  const slots = bank.gatherSlots(view).map((slot, i) => ({
    m: toTfjsLayout(trainable[i].spec, slot.m),
    s: toTfjsLayout(trainable[i].spec, slot.s),
  }));
  const optimizer = createOptimizer(net.variables, { kind: 'adam' }, { step, slots });
  const dispose = () => {
    optimizer.dispose();
    net.dispose();
  };
  return {
    net,
    optimizer,
    commit() {
      bank.scatterWeights(view, net.exportWeights());
      const state = optimizer.exportState();
      bank.scatterSlots(
        view,
        state.slots.map((slot, i) => ({
          m: fromTfjsLayout(trainable[i].spec, slot.m),
          s: slot.s ? fromTfjsLayout(trainable[i].spec, slot.s) : undefined,
        })),
      );
      dispose();
    },
    dispose,
  };
}

/**
 * One update of a path: cross-entropy against `targets` (one-hot labels, or a teacher's softened
 * probabilities). Returns the loss and, when asked, the logits (as probabilities at `temperature`).
 */
function pathStep(
  session: PathSession,
  x: tf.Tensor4D,
  targets: tf.Tensor2D,
  learningRate: number,
  temperature: { readonly teacher?: number; readonly student?: number },
): { loss: number; teacher?: tf.Tensor2D } {
  let teacher: tf.Tensor2D | undefined;
  const loss = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => {
      // BN's moving statistics are never read: subnets are scored after recalibration.
      const logits = session.net.apply(x, { training: true, updateStatistics: false });
      if (temperature.teacher !== undefined) {
        // Only the returned loss is differentiated: the teacher's probabilities carry no gradient.
        teacher = tf.keep(tf.softmax(tf.div(logits, temperature.teacher)) as tf.Tensor2D);
      }
      const student = temperature.student !== undefined ? tf.div(logits, temperature.student) : logits;
      return tf.losses.softmaxCrossEntropy(targets, student) as tf.Scalar;
    }, session.net.variables);
    session.optimizer.step(grads, learningRate);
    return value.dataSync()[0];
  });
  return { loss, teacher };
}

/** Trains (or finishes training) a supernet and writes it to `options.outputPath`. */
export async function trainSupernet(
  req: SupernetTrainingRequest,
  options: TrainSupernetOptions,
): Promise<SupernetTrainingResult> {
  const started = performance.now();
  checkRequest(req);
  const { signal, onProgress, onCheckpoint } = options;
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
  const config = supernetConfig(req.space, data);
  const checkpointPath = options.checkpointPath ?? `${options.outputPath}.ckpt`;

  let bank: WeightBank | undefined;
  let startStep = 0;
  if (options.resumeFrom) {
    try {
      const file = readSupernetFile(options.resumeFrom, config);
      if (file.header.totalSteps !== req.steps) {
        throw new SupernetFileError(
          `checkpoint is of a ${file.header.totalSteps}-step run, not ${req.steps}`,
        );
      }
      bank = file.bank;
      startStep = file.header.step;
    } catch (err) {
      options.onResumeRefused?.((err as Error).message);
    }
  }
  bank ??= WeightBank.create(config, req.seed, req.blockTypes);

  const pixels = imageSize(data);
  const batchSize = Math.min(req.batchSize, data.train.count);
  const stepsPerEpoch = Math.max(1, Math.floor(data.train.count / batchSize));
  const totalSteps = req.steps;
  const warmup = Math.min(Math.round(totalSteps * 0.05), 200);
  const peakLr = req.learningRate ?? DEFAULT_LR;
  const temperature = req.distillationTemperature ?? 1;
  const progressInterval = req.progressIntervalMs ?? 2000;
  const checkpointInterval = options.checkpointIntervalMs ?? 30_000;
  const meta = { request: { ...req, dataDir: undefined, datasetRoots: undefined } };

  let orderEpoch = -1;
  let order: Int32Array = new Int32Array(0);
  const batchOrder = (epoch: number) => {
    if (epoch !== orderEpoch) {
      order = shuffledIndices(data.train.count, createRandom(mixSeed(req.seed, BATCH_ORDER_STREAM, epoch)));
      orderEpoch = epoch;
    }
    return order;
  };

  const lossCurve = lossCurveRecorder(totalSteps);
  let reportLoss = 0;
  let reportSteps = 0;
  let trainMs = 0;
  let images = 0;
  let lastReport = performance.now();
  let lastCheckpoint = performance.now();
  const report = (step: number) => {
    onProgress?.({
      step,
      totalSteps,
      loss: reportSteps > 0 ? reportLoss / reportSteps : NaN,
      imagesPerSecond: trainMs > 0 ? (images * 1000) / trainMs : 0,
      elapsedMs: performance.now() - started,
    });
    reportLoss = 0;
    reportSteps = 0;
    lastReport = performance.now();
  };
  const checkpoint = (step: number) => {
    writeSupernetFile(checkpointPath, bank as WeightBank, { step, totalSteps, meta });
    lastCheckpoint = performance.now();
    onCheckpoint?.({ step, path: checkpointPath });
  };

  // A checkpoint past the requested stop (a replayed segment) is never rewound.
  const endStep = Math.max(startStep, Math.min(totalSteps, options.stopAtStep ?? totalSteps));
  for (let step = startStep; step < endStep; step++) {
    await yieldToEventLoop();
    if (signal?.aborted) throw new TrainingAbortedError(step);
    const epoch = Math.floor(step / stepsPerEpoch);
    const inEpoch = step % stepsPerEpoch;
    const [batchImages, labels] = gatherBatch(
      data.train,
      batchOrder(epoch).subarray(inEpoch * batchSize, (inEpoch + 1) * batchSize),
      pixels,
    );
    const t0 = performance.now();
    const lr = cosineLearningRate(step, totalSteps, peakLr, warmup);
    let stepLoss = 0;
    tf.tidy(() => {
      const x = tf.tensor4d(batchImages, [labels.length, data.height, data.width, data.channels]);
      const oneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), data.classes) as tf.Tensor2D;
      let teacher: tf.Tensor2D | undefined;
      for (const pass of pathsForStep(req.sampling, bank!.choices, req.seed, step)) {
        const session = openPath(bank!, bank!.view(pass.architecture), step);
        try {
          const distil = pass.distil && teacher !== undefined;
          const out = pathStep(session, x, distil ? (teacher as tf.Tensor2D) : oneHot, lr, {
            teacher: pass.teacher ? temperature : undefined,
            student: distil ? temperature : undefined,
          });
          if (out.teacher) {
            teacher?.dispose();
            teacher = out.teacher;
          }
          if (!pass.distil) stepLoss = out.loss;
          session.commit();
        } catch (err) {
          session.dispose();
          throw err;
        }
        images += labels.length;
      }
      teacher?.dispose();
    });
    trainMs += performance.now() - t0;
    if (!Number.isFinite(stepLoss))
      throw new Error(`supernet training diverged: loss ${stepLoss} at step ${step}`);
    lossCurve.add(step, stepLoss);
    reportLoss += stepLoss;
    reportSteps++;
    const done = step + 1;
    if (step === startStep || performance.now() - lastReport >= progressInterval) report(done);
    const byCount = options.checkpointEverySteps !== undefined && done % options.checkpointEverySteps === 0;
    if (done < endStep && (byCount || performance.now() - lastCheckpoint >= checkpointInterval))
      checkpoint(done);
  }
  if (signal?.aborted) throw new TrainingAbortedError(endStep);
  report(endStep);
  const complete = endStep === totalSteps;
  const written = complete
    ? writeSupernetFile(options.outputPath, bank, { step: totalSteps, totalSteps, meta })
    : writeSupernetFile(checkpointPath, bank, { step: endStep, totalSteps, meta });
  if (!complete) onCheckpoint?.({ step: endStep, path: checkpointPath });
  return {
    steps: endStep,
    complete,
    resumedFromStep: startStep,
    sampling: req.sampling,
    lossCurve: lossCurve.points,
    imagesPerSecond: trainMs > 0 ? (images * 1000) / trainMs : 0,
    wallTimeMs: performance.now() - started,
    backend,
    peakRssBytes: peakRssBytes(),
    bankSize: bank.size,
    sha256: written.sha256,
    bytes: written.bytes,
  };
}
