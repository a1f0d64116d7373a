import {
  DEFAULT_SUPERNET_SEED,
  EvaluationSpec,
  FinalistSpec,
  JOB_PRESETS,
  JobPreset,
  ProxyDatasetSpec,
  ProxyTrainingSpec,
  SearchBudget,
  SupernetSpec,
} from '@edgenas/contracts';
import { ApiError, FieldError } from '../common/api-error';
import { CreateJobDto, EvaluationDto, ProxyDatasetDto, ProxyTrainingDto, SearchBudgetDto } from './jobs.dto';

/** Defaults a preset does not fix (documented in the OpenAPI schema examples). */
export const JOB_DEFAULTS = {
  preset: 'quick',
  datasetKind: 'fashion-mnist',
  valFraction: 0.2,
  epochs: 1,
  batchSize: 32,
  resolution: 28,
  strategy: 'nsga2',
} as const;

/** What a job request resolves to: the preset filled in under the request's explicit fields. */
export interface ResolvedJobRequest {
  readonly proxy: ProxyTrainingSpec;
  readonly budget: SearchBudget;
  readonly evaluation: EvaluationSpec;
}

function datasetSpec(d: ProxyDatasetDto | undefined, preset: JobPreset): ProxyDatasetSpec {
  if (d?.kind === 'image-folder') {
    return {
      kind: 'image-folder',
      path: d.path as string,
      valFraction: d.valFraction ?? JOB_DEFAULTS.valFraction,
    };
  }
  return {
    kind: d?.kind ?? JOB_DEFAULTS.datasetKind,
    trainSize: d?.trainSize ?? preset.trainSize,
    valSize: d?.valSize ?? preset.valSize,
  };
}

function proxySpec(p: ProxyTrainingDto | undefined, preset: JobPreset): ProxyTrainingSpec {
  return {
    dataset: datasetSpec(p?.dataset, preset),
    epochs: p?.epochs ?? JOB_DEFAULTS.epochs,
    ...(p?.steps !== undefined ? { steps: p.steps } : {}),
    batchSize: p?.batchSize ?? JOB_DEFAULTS.batchSize,
    resolution: p?.resolution ?? JOB_DEFAULTS.resolution,
  };
}

function budgetSpec(b: SearchBudgetDto | undefined, preset: JobPreset): SearchBudget {
  const d = preset.budget;
  return {
    generations: b?.generations ?? d.generations,
    population: b?.population ?? d.population,
    maxTrainedCandidates: b?.maxTrainedCandidates ?? d.maxTrainedCandidates,
    wallClockSeconds: b?.wallClockSeconds ?? d.wallClockSeconds,
  };
}

function finalistSpec(e: EvaluationDto | undefined, preset: JobPreset): FinalistSpec {
  const d = preset.evaluation.finalists;
  const f = e?.finalists;
  return {
    count: f?.count ?? d.count,
    seeds: f?.seeds ?? d.seeds,
    steps: f?.steps ?? d.steps,
    batchSize: f?.batchSize ?? d.batchSize,
  };
}

/** The preset's score subset is capped at the validation split; an explicit one is checked against it. */
function supernetSpec(
  e: EvaluationDto | undefined,
  preset: JobPreset,
  valSize: number | undefined,
): SupernetSpec {
  const d = preset.evaluation.supernet;
  const s = e?.supernet;
  return {
    steps: s?.steps ?? d.steps,
    batchSize: s?.batchSize ?? d.batchSize,
    sampling: s?.sampling ?? d.sampling,
    recalibrationBatches: s?.recalibrationBatches ?? d.recalibrationBatches,
    scoreImages: s?.scoreImages ?? Math.min(d.scoreImages, valSize ?? d.scoreImages),
    seed: s?.seed ?? DEFAULT_SUPERNET_SEED,
  };
}

function evaluationSpec(e: EvaluationDto | undefined, preset: JobPreset, valSize?: number): EvaluationSpec {
  const mode = e?.mode ?? preset.evaluation.mode;
  if (mode === 'standalone') {
    // Baselines train with the finalists' budget, so it travels with them.
    const baselines = e?.baselines ?? false;
    return { mode, baselines, ...(baselines ? { finalists: finalistSpec(e, preset) } : {}) };
  }
  return {
    mode,
    supernet: supernetSpec(e, preset, valSize),
    finalists: finalistSpec(e, preset),
    baselines: e?.baselines ?? preset.evaluation.baselines,
  };
}

/**
 * Cross-field checks the DTO decorators cannot express: the dataset must hold a batch of every training the
 * job runs and the supernet's score subset. Sizes of an image folder are unknown until a worker reads it, so
 * those checks are left to the worker there.
 */
function sizeIssues(body: CreateJobDto, resolved: ResolvedJobRequest): FieldError[] {
  const issues: FieldError[] = [];
  const { dataset } = resolved.proxy;
  const { evaluation } = resolved;
  if (evaluation.mode === 'standalone' && body.evaluation?.supernet !== undefined) {
    issues.push({ field: 'evaluation.supernet', reason: 'only for mode supernet' });
  }
  if (dataset.kind === 'image-folder') return issues;
  const batches: [string, number][] = [];
  if (evaluation.mode === 'standalone') batches.push(['proxy.batchSize', resolved.proxy.batchSize]);
  if (evaluation.supernet) batches.push(['evaluation.supernet.batchSize', evaluation.supernet.batchSize]);
  if (evaluation.finalists) batches.push(['evaluation.finalists.batchSize', evaluation.finalists.batchSize]);
  for (const [field, size] of batches) {
    if (dataset.trainSize < size) {
      issues.push({
        field: 'proxy.dataset.trainSize',
        reason: `the training set (${dataset.trainSize} images) is smaller than one batch of ${field} (${size})`,
      });
    }
  }
  const scoreImages = evaluation.supernet?.scoreImages;
  if (scoreImages !== undefined && scoreImages > dataset.valSize) {
    issues.push({
      field: 'evaluation.supernet.scoreImages',
      reason: `${scoreImages} images to score on, but the validation set (proxy.dataset.valSize) has ${dataset.valSize}`,
    });
  }
  return issues;
}

/**
 * The preset (default quick) under the request's explicit fields: proxy dataset sizes, search budget and
 * evaluation, with `supernet` and `finalists` always set in supernet mode. Throws a 400 naming each field that
 * cannot work together with the others.
 */
export function resolveJobRequest(body: CreateJobDto): ResolvedJobRequest {
  const preset = JOB_PRESETS[body.preset ?? JOB_DEFAULTS.preset];
  const proxy = proxySpec(body.proxy, preset);
  const valSize = proxy.dataset.kind === 'image-folder' ? undefined : proxy.dataset.valSize;
  const resolved = {
    proxy,
    budget: budgetSpec(body.budget, preset),
    evaluation: evaluationSpec(body.evaluation, preset, valSize),
  };
  const issues = sizeIssues(body, resolved);
  if (issues.length > 0) {
    throw new ApiError(400, issues.map((i) => `${i.field}: ${i.reason}`).join('; '), issues);
  }
  return resolved;
}
