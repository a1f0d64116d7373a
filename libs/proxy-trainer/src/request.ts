import type { Augmentation } from './augment';
import type { BackendPreference, BackendSelection } from './backend';
import type { DatasetSpec } from './datasets/dataset';

/** One proxy-training run: the contract's ProxyTrainingSpec plus what names the candidate and its seed. */
export interface ProxyTrainingRequest {
  /** Compact architecture string (see @edgenas/search-space formatArchitecture). */
  readonly architecture: string;
  /** Macro config the architecture is laid onto at the proxy resolution. Default 'proxy-28'. */
  readonly space?: string;
  readonly dataset: DatasetSpec;
  /** Training budget in epochs over the training subset; `steps` wins when set. */
  readonly epochs: number;
  readonly steps?: number;
  readonly batchSize: number;
  /** Square input resolution of the proxy geometry (images are resized to it). */
  readonly resolution: number;
  readonly seed: number;
  /** Datasets cache directory (default $EDGENAS_DATA_DIR or .edgenas). */
  readonly dataDir?: string;
  /** Image folders must lie under these (see DatasetLoadOptions). */
  readonly datasetRoots?: readonly string[];
  readonly backend?: BackendPreference;
  /** Default 'adam'. */
  readonly optimizer?: 'adam' | 'sgd';
  /** Peak learning rate of the cosine schedule (after a 5 % linear warm-up). Default 1e-2 (adam), 0.1 (sgd). */
  readonly learningRate?: number;
  /** SGD momentum (default 0.9). */
  readonly momentum?: number;
  /** Decoupled weight decay on conv/fc weights (default 0). */
  readonly weightDecay?: number;
  /** Label smoothing of the cross-entropy (default 0). */
  readonly labelSmoothing?: number;
  /** BatchNorm momentum while training (default 0.9: short runs need moving statistics that converge). */
  readonly bnMomentum?: number;
  /** Training batches whose averaged statistics replace BN's moving ones before evaluation (default 8; 0 = off). */
  readonly bnRecalibrationBatches?: number;
  /** Minimum interval between progress reports, ms (default 2000). */
  readonly progressIntervalMs?: number;
  /** Random crop and flip of the training images (default none). */
  readonly augmentation?: Augmentation;
  /** Knowledge distillation from a teacher's logits on the training split (default none). */
  readonly distillation?: DistillationRequest;
}

/**
 * Distillation from cached teacher logits: loss = (1 − weight)·CE(labels, student) +
 * weight·T²·KL(softmax(teacher/T) ‖ softmax(student/T)), T = temperature (Hinton et al.; T² keeps the soft
 * term's gradients on the scale of the hard one's). The teacher never runs during training: its logits for
 * every training image are computed once beforehand (on the un-augmented images).
 */
export interface DistillationRequest {
  /** One row of `classes` logits per training image, in the training split's order; or a teacher-logits file. */
  readonly teacherLogits: Float32Array | string;
  readonly temperature: number;
  /** α in [0, 1]. */
  readonly weight: number;
}

export interface TrainingProgress {
  readonly step: number;
  readonly totalSteps: number;
  readonly epoch: number;
  /** Mean training loss since the previous report. */
  readonly loss: number;
  readonly imagesPerSecond: number;
  readonly elapsedMs: number;
}

export interface LossPoint {
  readonly step: number;
  readonly loss: number;
}

export interface ProxyTrainingResult {
  readonly architecture: string;
  /** Name of the proxy geometry the candidate was built on. */
  readonly geometry: string;
  readonly dataset: string;
  /** Top-1 on the validation split, in [0, 1]. */
  readonly valAccuracy: number;
  /** Top-1 on (up to as many) training images, evaluated like validation, in [0, 1]. */
  readonly trainAccuracy: number;
  /** Mean training loss per interval (at most ~100 points). */
  readonly lossCurve: readonly LossPoint[];
  /** Training throughput (forward + backward + update), excluding data loading and evaluation. */
  readonly imagesPerSecond: number;
  /** Whole run: dataset, build, training and evaluation. */
  readonly wallTimeMs: number;
  readonly steps: number;
  /** Step the run started from: 0, or the step of the checkpoint it resumed from. */
  readonly resumedFromStep: number;
  /** Epochs completed (fractional when the budget is in steps). */
  readonly epochs: number;
  readonly backend: BackendSelection;
  /** Peak resident set size of the training process. */
  readonly peakRssBytes: number;
  /** Trainable parameters. */
  readonly params: number;
  readonly macs: number;
}
