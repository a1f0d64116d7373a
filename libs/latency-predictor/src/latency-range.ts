import { MacroConfig, createRng, sampleArchitecture } from '@edgenas/search-space';
import { Calibration } from './calibration';
import { LatencyLut } from './lut';
import { fastestAchievableLatency, predictLatency } from './predict';

export interface LatencyRangeOptions {
  /** Architectures drawn (default 200). */
  readonly samples?: number;
  /** Seed of the draw (default 1): the same seed, LUT and calibration give the same range. */
  readonly seed?: number;
  /** The sampled architectures must also be valid there (the job's proxy training geometry). */
  readonly alsoValidFor?: readonly MacroConfig[];
}

export interface LatencyRange {
  /** The lowest latency any architecture of the space reaches (exact, not sampled). */
  readonly fastestAchievableMs: number;
  readonly samples: number;
  readonly seed: number;
  readonly sampledFastestMs: number;
  readonly p10Ms: number;
  readonly medianMs: number;
  readonly p90Ms: number;
  readonly sampledSlowestMs: number;
  /**
   * A budget that splits the space: the sample's median (half of random architectures fit), but never below
   * the fastest achievable latency.
   */
  readonly suggestedBudgetMs: number;
}

export const DEFAULT_RANGE_SAMPLES = 200;
export const DEFAULT_RANGE_SEED = 1;

/** Linear interpolation between order statistics (`sorted` ascending, q in [0, 1]). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of an empty list');
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * What latencies a space offers on one device: the exact fastest architecture, and the spread of predicted
 * latency over a seeded uniform sample of architectures (the distribution a search starts from). Throws
 * `MissingSignaturesError` when the LUT cannot price the space.
 */
export function latencyRange(
  config: MacroConfig,
  lut: LatencyLut,
  calibration: Calibration | undefined,
  options: LatencyRangeOptions = {},
): LatencyRange {
  const samples = options.samples ?? DEFAULT_RANGE_SAMPLES;
  const seed = options.seed ?? DEFAULT_RANGE_SEED;
  if (!Number.isInteger(samples) || samples < 1)
    throw new RangeError(`samples must be a positive integer, got ${samples}`);
  const fastest = fastestAchievableLatency(config, lut, calibration).latencyMs;
  const rng = createRng(seed);
  const latencies: number[] = [];
  for (let i = 0; i < samples; i++) {
    const arch = sampleArchitecture(config, rng, { alsoValidFor: options.alsoValidFor });
    latencies.push(predictLatency(arch, config, lut, calibration).latencyMs);
  }
  latencies.sort((a, b) => a - b);
  const medianMs = quantile(latencies, 0.5);
  return {
    fastestAchievableMs: fastest,
    samples,
    seed,
    sampledFastestMs: latencies[0],
    p10Ms: quantile(latencies, 0.1),
    medianMs,
    p90Ms: quantile(latencies, 0.9),
    sampledSlowestMs: latencies[latencies.length - 1],
    suggestedBudgetMs: Math.max(medianMs, fastest),
  };
}
