/**
 * What the API and the worker agree on: workflow and task-queue names, workflow input/output, queries and
 * signals. Types and constants only — the API imports this, never workflow code.
 */

import type { Geometry, ProxyDatasetSpec } from './geometry';
import type { DevicePrecision } from './measurements';

export type { Geometry, ProxyDatasetSpec } from './geometry';

export const TASK_QUEUES = {
  /** Workflows and light activities (latency prediction, recording, ONNX export, verification requests). */
  light: 'edgenas-light',
  /** Proxy training activities: CPU-bound, scaled out on other machines. */
  training: 'edgenas-training',
} as const;

export const NAS_JOB_WORKFLOW = 'nasJob';
/** Query returning `NasJobProgress`. */
export const PROGRESS_QUERY = 'progress';

export type SearchStrategy = 'nsga2' | 'evolution' | 'random';

export interface ProxyTrainingSpec {
  readonly dataset: ProxyDatasetSpec;
  /** Training budget: epochs over the training subset (or `steps` when set). */
  readonly epochs: number;
  readonly steps?: number;
  readonly batchSize: number;
  /** Square input resolution of the proxy geometry. */
  readonly resolution: number;
}

export interface SearchBudget {
  readonly generations: number;
  readonly population: number;
  /** Hard cap on candidates evaluated over the whole job (proxy-trained in standalone mode, scored in supernet mode). */
  readonly maxTrainedCandidates: number;
  /** Wall-clock limit of the search in seconds; the job returns its front so far when it runs out. */
  readonly wallClockSeconds: number;
}

/**
 * How candidates' accuracy is estimated.
 * - `supernet`: one weight-sharing supernet is trained (or reused) on the proxy geometry, candidates are scored
 *   with inherited weights, and the search front's finalists are retrained stand-alone over seeds.
 * - `standalone`: every candidate is proxy-trained from scratch (`proxy`'s budget).
 */
export type EvaluationMode = 'supernet' | 'standalone';
export const EVALUATION_MODES: readonly EvaluationMode[] = ['supernet', 'standalone'];

/** Path sampling while training the supernet (one path per step). */
export type SupernetSampling = 'uniform' | 'fair' | 'sandwich';
export const SUPERNET_SAMPLINGS: readonly SupernetSampling[] = ['uniform', 'fair', 'sandwich'];

export interface SupernetSpec {
  /** Optimisation steps of supernet training. */
  readonly steps: number;
  readonly batchSize: number;
  readonly sampling: SupernetSampling;
  /** Training batches whose statistics replace BatchNorm's before a subnet is scored. */
  readonly recalibrationBatches: number;
  /** Validation images every subnet is scored on (the first ones of the validation split). */
  readonly scoreImages: number;
  /**
   * Seed of the supernet's training, apart from the job's: jobs on the same data for other devices, budgets
   * or search seeds then reuse one supernet. Absent (jobs stored before it existed): the job's seed.
   */
  readonly seed?: number;
}

/** The supernet seed a job gets when its request names none, so that jobs share supernets by default. */
export const DEFAULT_SUPERNET_SEED = 0;

export interface FinalistSpec {
  /** Search-front members retrained stand-alone (spread by crowding distance). */
  readonly count: number;
  /** Seeds per finalist (≥ 2, so a difference can be told from seed noise). */
  readonly seeds: number;
  /** Stand-alone training steps per finalist and seed. */
  readonly steps: number;
  readonly batchSize: number;
}

export interface EvaluationSpec {
  readonly mode: EvaluationMode;
  /** Supernet mode only. */
  readonly supernet?: SupernetSpec;
  /** Supernet mode: the finalists; standalone mode ignores it. */
  readonly finalists?: FinalistSpec;
  /** Train and price the hand-designed baselines beside the front (finalists' budget and seeds). */
  readonly baselines: boolean;
}

export type PresetName = 'quick' | 'standard' | 'thorough';
export const PRESET_NAMES: readonly PresetName[] = ['quick', 'standard', 'thorough'];

/** What a preset fixes; a request's explicit fields win over it. */
export interface JobPreset {
  readonly budget: SearchBudget;
  /** Names supernet and finalist budgets even where its mode would not need them, so a request may switch modes. */
  readonly evaluation: EvaluationSpec & { readonly supernet: SupernetSpec; readonly finalists: FinalistSpec };
  /** Proxy dataset sizes (Fashion-MNIST / synthetic). */
  readonly trainSize: number;
  readonly valSize: number;
}

export const JOB_PRESETS: Readonly<Record<PresetName, JobPreset>> = {
  quick: {
    budget: { generations: 8, population: 32, maxTrainedCandidates: 256, wallClockSeconds: 1800 },
    evaluation: {
      mode: 'supernet',
      supernet: {
        steps: 2000,
        batchSize: 64,
        sampling: 'uniform',
        recalibrationBatches: 8,
        scoreImages: 1000,
      },
      finalists: { count: 4, seeds: 2, steps: 300, batchSize: 64 },
      baselines: true,
    },
    trainSize: 8000,
    valSize: 2000,
  },
  standard: {
    budget: { generations: 20, population: 64, maxTrainedCandidates: 1280, wallClockSeconds: 7200 },
    evaluation: {
      mode: 'supernet',
      supernet: {
        steps: 6000,
        batchSize: 64,
        sampling: 'uniform',
        recalibrationBatches: 8,
        scoreImages: 2000,
      },
      finalists: { count: 8, seeds: 2, steps: 800, batchSize: 64 },
      baselines: true,
    },
    trainSize: 16000,
    valSize: 2000,
  },
  thorough: {
    budget: { generations: 40, population: 100, maxTrainedCandidates: 4000, wallClockSeconds: 21600 },
    evaluation: {
      mode: 'supernet',
      supernet: {
        steps: 20000,
        batchSize: 64,
        sampling: 'uniform',
        recalibrationBatches: 16,
        scoreImages: 5000,
      },
      finalists: { count: 8, seeds: 3, steps: 2000, batchSize: 64 },
      baselines: true,
    },
    trainSize: 50000,
    valSize: 10000,
  },
};

export interface NasJobInput extends Geometry {
  readonly jobId: string;
  /** Target device ids; the latency objective is the worst predicted latency over them. */
  readonly deviceIds: readonly string[];
  readonly latencyBudgetMs: number;
  readonly proxy: ProxyTrainingSpec;
  readonly budget: SearchBudget;
  readonly strategy: SearchStrategy;
  readonly seed: number;
  /** Precision the job deploys at: its devices are profiles of it, priced from their LUTs. Absent: fp32. */
  readonly precision?: DevicePrecision;
  /** Absent: `standalone` (jobs started before evaluation modes existed). */
  readonly evaluation?: EvaluationSpec;
}

export type JobStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface CandidateSummary {
  readonly architectureId: string;
  /** Compact architecture string (see @edgenas/search-space formatArchitecture). */
  readonly architecture: string;
  readonly accuracy: number;
  /** Worst predicted latency over the job's devices, ms. */
  readonly predictedLatencyMs: number;
  readonly predictedLatencyByDevice: Readonly<Record<string, number>>;
  /** Measured end to end by a device agent, where one verified it. */
  readonly measuredLatencyByDevice?: Readonly<Record<string, number>>;
  readonly macs: number;
  readonly params: number;
  /**
   * Where `accuracy` comes from: a stand-alone proxy training (`standalone`), inherited supernet weights
   * (`supernet`), or the mean over `seeds` stand-alone retrainings of a finalist or baseline (`retrained`).
   */
  readonly accuracySource?: 'standalone' | 'supernet' | 'retrained';
  /** Supernet mode: the candidate's supernet score, kept beside the retrained accuracy. */
  readonly supernetAccuracy?: number;
  /** Sample standard deviation of the accuracy over seeds (retrained only). */
  readonly accuracySd?: number;
  /** Accuracy per seed (retrained only). */
  readonly seedAccuracies?: readonly number[];
  /** Front members whose accuracy differs from this one's by less than the seed spread. */
  readonly tiedWith?: readonly string[];
  /**
   * Supernet mode: a hand-designed baseline (e.g. `mobilenetv2-like`) that fits the budget and that no finalist
   * dominates is a member of the job's front, named here, so the front is the best of everything trained.
   */
  readonly baseline?: string;
}

/** A hand-designed network laid on the job's space, trained and priced like the finalists. */
export interface BaselineSummary extends CandidateSummary {
  /** e.g. `mobilenetv2-like`. */
  readonly baseline: string;
  /**
   * Dominated by, or matched within the seed spread by, one of the search's finalists: what the search bought
   * over this baseline. An uncovered baseline within the budget is itself a member of the front.
   */
  readonly coveredByFront: boolean;
}

export interface NasJobProgress {
  readonly status: JobStatus;
  readonly generation: number;
  readonly generations: number;
  readonly trained: number;
  readonly rejectedOverBudget: number;
  readonly front: readonly CandidateSummary[];
  readonly hypervolume: number;
  /** What the job is doing now, e.g. `supernet training 42 %`, `scoring 300/1000`, `training finalist 3/8`. */
  readonly activity?: string;
  /** Hypervolume of the search front after each generation. */
  readonly hypervolumeHistory?: readonly number[];
}

export interface SupernetArtifactSummary {
  /** Content key: space, proxy geometry, dataset, budget, sampling, seed and trainer version. */
  readonly key: string;
  readonly steps: number;
  /** True when a complete artifact with this key existed and was loaded instead of trained. */
  readonly reused: boolean;
  readonly trainingMs: number;
  readonly sha256: string;
  /** Step the last training attempt started from (> 0 when it resumed from a checkpoint). */
  readonly resumedFromStep?: number;
  /** Another job with the same key trained it while this one waited (one job at a time trains a key). */
  readonly sharedWith?: string;
}

export interface NasJobResult {
  readonly front: readonly CandidateSummary[];
  readonly trained: number;
  readonly hypervolume: number;
  readonly evaluationMode?: EvaluationMode;
  /** Precision the front was priced at (its devices' LUTs). Absent on results from before precisions: fp32. */
  readonly precision?: DevicePrecision;
  /** Supernet mode: the search front scored by the supernet, before finalists were retrained. */
  readonly searchFront?: readonly CandidateSummary[];
  readonly baselines?: readonly BaselineSummary[];
  readonly supernet?: SupernetArtifactSummary;
  /** Subnets scored with inherited weights (supernet mode). */
  readonly scored?: number;
  readonly stoppedBy: 'budget' | 'wall-clock' | 'max-candidates';
}

export * from './measurements';
export * from './agent-api';
export * from './final-models';
