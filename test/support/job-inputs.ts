import { NasJobInput } from '@edgenas/contracts';

/**
 * The smallest job a test stores or starts: proxy-28 on 64 synthetic images, one generation of two candidates.
 * `evaluation` picks a tiny supernet evaluation, stand-alone training, or none (the field left out); `overrides`
 * replaces whole top-level fields.
 */
export function tinyJobInput(
  jobId: string,
  deviceIds: readonly string[],
  evaluation: 'supernet' | 'standalone' | 'omitted' = 'supernet',
  overrides: Partial<NasJobInput> = {},
): NasJobInput {
  return {
    jobId,
    deviceIds,
    latencyBudgetMs: 5,
    space: 'proxy-28',
    input: { height: 28, width: 28, channels: 1 },
    classes: 10,
    proxy: {
      dataset: { kind: 'synthetic', trainSize: 64, valSize: 32 },
      epochs: 1,
      batchSize: 16,
      resolution: 28,
    },
    budget: { generations: 1, population: 2, maxTrainedCandidates: 2, wallClockSeconds: 60 },
    strategy: 'nsga2',
    seed: 7,
    ...(evaluation === 'supernet'
      ? {
          evaluation: {
            mode: 'supernet',
            supernet: {
              steps: 4,
              batchSize: 16,
              sampling: 'uniform',
              recalibrationBatches: 1,
              scoreImages: 8,
            },
            finalists: { count: 2, seeds: 2, steps: 3, batchSize: 16 },
            baselines: true,
          },
        }
      : evaluation === 'standalone'
        ? { evaluation: { mode: 'standalone', baselines: false } }
        : {}),
    ...overrides,
  };
}

/** A `POST /v1/jobs` body every field of which is valid (on a device whose proxy-28 LUT is complete): fuzzers start here. */
export function validJobRequest(deviceId: string) {
  return {
    space: 'proxy-28',
    deviceIds: [deviceId],
    latencyBudgetMs: 1000,
    input: { height: 28, width: 28, channels: 1 },
    classes: 10,
    preset: 'quick',
    proxy: {
      dataset: { kind: 'fashion-mnist', trainSize: 512, valSize: 256 },
      epochs: 1,
      batchSize: 32,
      resolution: 28,
    },
    budget: { generations: 2, population: 4, maxTrainedCandidates: 8, wallClockSeconds: 60 },
    strategy: 'nsga2',
    evaluation: {
      mode: 'supernet',
      supernet: { steps: 10, batchSize: 32, sampling: 'uniform', recalibrationBatches: 2, scoreImages: 64 },
      finalists: { count: 2, seeds: 2, steps: 10, batchSize: 32 },
      baselines: false,
    },
    seed: 7,
  };
}
