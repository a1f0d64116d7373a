/**
 * Scoring subnets with inherited weights (SPOS): a path's weights are taken from the supernet, its BatchNorm
 * statistics are recomputed on a few training batches (the supernet's running statistics mix every path, and
 * without recalibration subnets score far lower), then top-1 is measured on a fixed validation subset. The
 * supernet is loaded once for a whole batch of candidates.
 *
 * Top-1 is measured in ONNX Runtime on the recalibrated subnet's folded ONNX model, not in tfjs: the same
 * accuracy, at about a quarter of the CPU time (TensorFlow's depthwise convolutions and unfolded BatchNorm
 * are the slow part of a tfjs forward; see README, supernet scoring cost).
 */
import { evaluateOnnx } from '@edgenas/quantizer';
import { parseArchitecture } from '@edgenas/search-space';
import { buildOnnxModel } from '@edgenas/search-space/onnx';
import { buildTfjsNetwork } from '@edgenas/search-space/tfjs';
import { BackendPreference, BackendSelection, selectBackend } from '../backend';
import { Dataset, DatasetSpec, loadDataset, splitToNchw } from '../datasets';
import { TrainingAbortedError, TrainingRequestError } from '../errors';
import { recalibrateBatchNorm, yieldToEventLoop } from '../train';
import { readSupernetFile } from './artifact';
import { supernetConfig } from './train-supernet';
import { WeightBank } from './weight-bank';

export interface SubnetScoringRequest {
  /** A finished supernet file (checked against its `.sha256`). */
  readonly supernetPath: string;
  /** Macro config of the supernet (default 'proxy-28'). */
  readonly space?: string;
  readonly dataset: DatasetSpec;
  readonly resolution: number;
  /** Seed of the dataset split: the supernet's, so validation images were never trained on. */
  readonly seed: number;
  readonly architectures: readonly string[];
  /** Training batches of BatchNorm recalibration (default 8). */
  readonly recalibrationBatches?: number;
  /** Batch size of recalibration (default 64). */
  readonly batchSize?: number;
  /** Validation images scored (the first ones of the split; default all). */
  readonly scoreImages?: number;
  readonly backend?: BackendPreference;
  readonly dataDir?: string;
  /** Image folders must lie under these (see DatasetLoadOptions). */
  readonly datasetRoots?: readonly string[];
}

export interface SubnetScore {
  readonly architecture: string;
  /** Top-1 with inherited weights on the scored validation images, in [0, 1]. */
  readonly accuracy: number;
  readonly ms: number;
}

export interface SubnetScoringResult {
  readonly scores: readonly SubnetScore[];
  readonly scoredImages: number;
  readonly loadMs: number;
  readonly backend: BackendSelection;
  readonly sha256: string;
}

export interface ScoreSubnetsOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (done: number, total: number) => void;
  readonly dataset?: Dataset;
  /** An already loaded bank (bench and tests); skips reading `supernetPath`. */
  readonly bank?: WeightBank;
}

const RECALIBRATION_SEED_STREAM = 0x2545f491;

/** The validation images a batch of candidates is scored on, laid out for ONNX Runtime (NCHW). */
export interface ScoringImages {
  readonly images: Float32Array;
  readonly labels: ArrayLike<number>;
}

/** The first `count` validation images of `data`, as `scoreWithBank` takes them. */
export function scoringImages(data: Dataset, count: number): ScoringImages {
  return { images: splitToNchw(data.val, data, count), labels: data.val.labels.subarray(0, count) };
}

/** ORT runs of this many images: large enough that per-run overhead vanishes, small enough for little memory. */
const SCORING_RUN_IMAGES = 250;

/** The score of one architecture with inherited weights on an already loaded bank and dataset. */
export async function scoreWithBank(
  bank: WeightBank,
  data: Dataset,
  scoring: ScoringImages,
  architecture: string,
  opts: { recalibrationBatches: number; batchSize: number; seed: number },
): Promise<number> {
  const view = bank.view(parseArchitecture(architecture, bank.config));
  const net = buildTfjsNetwork(view.graph, bank.gatherWeights(view));
  let model: Uint8Array;
  try {
    if (opts.recalibrationBatches > 0) {
      recalibrateBatchNorm(
        net,
        data,
        opts.recalibrationBatches,
        opts.batchSize,
        opts.seed ^ RECALIBRATION_SEED_STREAM,
      );
    }
    model = buildOnnxModel(view.graph, net.exportWeights());
  } finally {
    net.dispose();
  }
  const evaluation = await evaluateOnnx(model, scoring.images, scoring.labels, {
    batchSize: SCORING_RUN_IMAGES,
    threads: 1,
  });
  return evaluation.top1;
}

export async function scoreSubnets(
  req: SubnetScoringRequest,
  options: ScoreSubnetsOptions = {},
): Promise<SubnetScoringResult> {
  const { signal, onProgress } = options;
  if (signal?.aborted) throw new TrainingAbortedError(0);
  const backend = await selectBackend(req.backend ?? 'auto');
  const t0 = performance.now();
  const data =
    options.dataset ??
    loadDataset(req.dataset, {
      resolution: req.resolution,
      seed: req.seed,
      dataDir: req.dataDir,
      datasetRoots: req.datasetRoots,
    });
  const config = supernetConfig(req.space, data);
  const file = options.bank ? undefined : readSupernetFile(req.supernetPath, config);
  const bank = options.bank ?? (file?.bank as WeightBank);
  const scoreImages = Math.min(req.scoreImages ?? data.val.count, data.val.count);
  if (scoreImages < 1) throw new TrainingRequestError('scoreImages must be at least 1');
  const loadMs = performance.now() - t0;
  const opts = {
    recalibrationBatches: req.recalibrationBatches ?? 8,
    batchSize: req.batchSize ?? 64,
    seed: req.seed,
  };
  const scoring = scoringImages(data, scoreImages);
  const scores: SubnetScore[] = [];
  for (const architecture of req.architectures) {
    await yieldToEventLoop();
    if (signal?.aborted) throw new TrainingAbortedError(scores.length);
    const started = performance.now();
    const accuracy = await scoreWithBank(bank, data, scoring, architecture, opts);
    scores.push({ architecture, accuracy, ms: performance.now() - started });
    onProgress?.(scores.length, req.architectures.length);
  }
  return { scores, scoredImages: scoreImages, loadMs, backend, sha256: file?.sha256 ?? '' };
}
