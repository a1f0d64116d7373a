/**
 * Scoring subnets with inherited weights (SPOS): a path's weights are taken from the supernet, its BatchNorm
 * statistics are recomputed on a few training batches (the supernet's running statistics mix every path, and
 * without recalibration subnets score far lower), then top-1 is measured on a fixed validation subset. The
 * supernet is loaded once for a whole batch of candidates.
 */
import { parseArchitecture } from '@edgenas/search-space';
import { buildTfjsNetwork } from '@edgenas/search-space/tfjs';
import { BackendPreference, BackendSelection, selectBackend } from '../backend';
import { Dataset, DatasetSpec, loadDataset } from '../datasets';
import { TrainingAbortedError, TrainingRequestError } from '../errors';
import { evaluateTop1, recalibrateBatchNorm, yieldToEventLoop } from '../train';
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

/** The score of one architecture with inherited weights on an already loaded bank and dataset. */
export function scoreWithBank(
  bank: WeightBank,
  data: Dataset,
  architecture: string,
  opts: { recalibrationBatches: number; batchSize: number; scoreImages: number; seed: number },
): number {
  const view = bank.view(parseArchitecture(architecture, bank.config));
  const net = buildTfjsNetwork(view.graph, bank.gatherWeights(view));
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
    return evaluateTop1(net, data, data.val, opts.scoreImages);
  } finally {
    net.dispose();
  }
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
    scoreImages,
    seed: req.seed,
  };
  const scores: SubnetScore[] = [];
  for (const architecture of req.architectures) {
    await yieldToEventLoop();
    if (signal?.aborted) throw new TrainingAbortedError(scores.length);
    const started = performance.now();
    const accuracy = scoreWithBank(bank, data, architecture, opts);
    scores.push({ architecture, accuracy, ms: performance.now() - started });
    onProgress?.(scores.length, req.architectures.length);
  }
  return { scores, scoredImages: scoreImages, loadMs, backend, sha256: file?.sha256 ?? '' };
}
