import { CalibrationSample } from './calibration';
import { ArchitectureFeatures } from './features';

/** Quality of latency predictions against end-to-end measurements (nn-Meter's metrics plus rank agreement). */
export interface PredictionQuality {
  readonly n: number;
  /** Share with |predicted − measured| / measured ≤ 5 %. */
  readonly within5: number;
  /** Share within ±10 % (nn-Meter's headline metric). */
  readonly within10: number;
  /** Root mean squared percentage error, as a fraction (0.05 = 5 %). */
  readonly rmspe: number;
  /** Kendall's tau-b between predicted and measured (ties handled); NaN when undefined. */
  readonly kendallTau: number;
}

// Relative errors computed in floating point; a hair of slack so exactly 10 % counts as within.
const EDGE = 1e-12;

function checkPairs(predicted: readonly number[], measured: readonly number[]): void {
  if (predicted.length !== measured.length)
    throw new Error(`predicted (${predicted.length}) and measured (${measured.length}) differ in length`);
  measured.forEach((m, i) => {
    if (!(m > 0) || !Number.isFinite(m)) throw new Error(`measured[${i}] must be a positive finite number`);
    if (!Number.isFinite(predicted[i])) throw new Error(`predicted[${i}] must be finite`);
  });
}

/** Share of pairs with |a − b| / b ≤ tolerance. */
export function shareWithin(a: readonly number[], b: readonly number[], tolerance: number): number {
  checkPairs(a, b);
  if (a.length === 0) return NaN;
  return a.filter((x, i) => Math.abs(x - b[i]) / b[i] <= tolerance + EDGE).length / a.length;
}

/** Kendall's tau-b: (concordant − discordant) / √((n0 − tiesX)(n0 − tiesY)). O(n²); n is small here. */
export function kendallTau(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) throw new Error('kendallTau: lists differ in length');
  const n = x.length;
  let concordant = 0;
  let discordant = 0;
  let tiesX = 0;
  let tiesY = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = Math.sign(x[i] - x[j]);
      const dy = Math.sign(y[i] - y[j]);
      if (dx === 0) tiesX++;
      if (dy === 0) tiesY++;
      if (dx !== 0 && dy !== 0) {
        if (dx === dy) concordant++;
        else discordant++;
      }
    }
  }
  const n0 = (n * (n - 1)) / 2;
  const denom = Math.sqrt((n0 - tiesX) * (n0 - tiesY));
  return denom === 0 ? NaN : (concordant - discordant) / denom;
}

export function evaluatePredictions(
  predicted: readonly number[],
  measured: readonly number[],
): PredictionQuality {
  checkPairs(predicted, measured);
  const n = predicted.length;
  if (n === 0) return { n, within5: NaN, within10: NaN, rmspe: NaN, kendallTau: NaN };
  const sq = predicted.reduce((s, p, i) => s + ((p - measured[i]) / measured[i]) ** 2, 0);
  return {
    n,
    within5: shareWithin(predicted, measured, 0.05),
    within10: shareWithin(predicted, measured, 0.1),
    rmspe: Math.sqrt(sq / n),
    kendallTau: kendallTau(predicted, measured),
  };
}

/**
 * Baseline: latency proportional to MACs, ms-per-MAC fitted on the calibration samples in ratio space
 * (minimising Σ ((k·macs − y) / y)²). Returns predictions for `test`.
 */
export function macProportionalBaseline(
  train: readonly CalibrationSample[],
  test: readonly ArchitectureFeatures[],
): number[] {
  if (train.length === 0) throw new Error('MAC-proportional baseline needs at least one training sample');
  let num = 0;
  let den = 0;
  for (const s of train) {
    const r = s.features.macs / s.measuredMs;
    num += r;
    den += r * r;
  }
  if (!(den > 0)) throw new Error('MAC-proportional baseline: training samples have no MACs');
  const msPerMac = num / den;
  return test.map((f) => msPerMac * f.macs);
}

/** Baseline: the raw Σ of isolated-block estimates, per-run overheads included, no calibration. */
export function rawLutSumBaseline(test: readonly ArchitectureFeatures[]): number[] {
  return test.map((f) => f.lutSumMs);
}

/**
 * Noise floor: the share of models whose two independent measurement rounds agree within ±tolerance
 * (round A read as a "prediction" of round B, the same rule as `within10`). No predictor beats it.
 */
export function noiseFloor(roundA: readonly number[], roundB: readonly number[], tolerance = 0.1): number {
  return shareWithin(roundA, roundB, tolerance);
}
