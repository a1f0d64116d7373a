/**
 * Statistics of interleaved benchmark rounds. On a shared CPU the median of one long run drifts by ±10 % and more
 * between runs; the 10th percentile of each round, with rounds interleaved across all items and the median taken
 * over rounds, is far steadier (see DESIGN.md, "Latency lookup tables and prediction").
 */

import { type LatencyStats, median, percentile } from '@edgenas/latency-predictor';

export interface RoundStats {
  readonly p10: number;
  readonly median: number;
  readonly p90: number;
}

export function roundStats(samples: readonly number[]): RoundStats {
  return { p10: percentile(samples, 0.1), median: percentile(samples, 0.5), p90: percentile(samples, 0.9) };
}

/**
 * Summary of one item over all rounds (times in ms): the upload's statistics less the warm-up count, which the
 * harness knows. The estimate is the median over rounds of each round's 10th percentile; median, p10 and p90 are
 * medians over rounds; repeatsPerRound is the smallest round.
 */
export type RoundsSummary = Omit<LatencyStats, 'warmupRuns'>;

/** `rounds[r]` = the timed runs of round r (ms). */
export function summarizeRounds(rounds: readonly (readonly number[])[]): RoundsSummary {
  const nonEmpty = rounds.filter((r) => r.length > 0);
  if (nonEmpty.length === 0) throw new Error('no timed runs to summarize');
  const perRound = nonEmpty.map(roundStats);
  const p10s = perRound.map((s) => s.p10);
  return {
    estimateMs: median(p10s),
    medianMs: median(perRound.map((s) => s.median)),
    p10Ms: median(p10s),
    p90Ms: median(perRound.map((s) => s.p90)),
    rounds: nonEmpty.length,
    repeatsPerRound: Math.min(...nonEmpty.map((r) => r.length)),
  };
}

/** Relative change of `current` against `baseline` (0.1 = 10 %). */
export function relativeChange(baseline: number, current: number): number {
  if (!(baseline > 0)) throw new Error(`drift baseline must be positive, got ${baseline}`);
  return Math.abs(current - baseline) / baseline;
}

/** Default drift tolerance: a reference block that moved more than this flags its batch. */
export const DRIFT_TOLERANCE = 0.1;

export function driftExceeded(baselineMs: number, currentMs: number, tolerance = DRIFT_TOLERANCE): boolean {
  return relativeChange(baselineMs, currentMs) > tolerance;
}

/**
 * Watches a reference item re-measured once per chunk: the first chunk sets the baseline, and a later chunk
 * whose reference moved by more than the tolerance is flagged (its measurements were taken in a different
 * machine state, e.g. a neighbour started hogging the cache or the clock dropped).
 */
export class DriftMonitor {
  private baselineMs: number | undefined;

  constructor(private readonly tolerance = DRIFT_TOLERANCE) {}

  /** Records this chunk's reference estimate; true when the chunk must be flagged. */
  observe(referenceMs: number): boolean {
    if (this.baselineMs === undefined) {
      this.baselineMs = referenceMs;
      return false;
    }
    return driftExceeded(this.baselineMs, referenceMs, this.tolerance);
  }
}

/**
 * Timed runs per round for an item: at least `minRepeats`, more for fast items so a round lasts about
 * `minRoundMs` (a 10th percentile of five 20 µs runs says little), at most `maxRepeats`.
 */
export function repeatsForItem(
  typicalRunMs: number,
  opts: { readonly minRepeats: number; readonly maxRepeats: number; readonly minRoundMs: number },
): number {
  const wanted = typicalRunMs > 0 ? Math.ceil(opts.minRoundMs / typicalRunMs) : opts.maxRepeats;
  return Math.max(opts.minRepeats, Math.min(opts.maxRepeats, wanted));
}
