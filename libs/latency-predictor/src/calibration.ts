import { ArchitectureFeatures } from './features';
import { MAD_TO_SIGMA, median } from './stats';

/**
 * Per-profile calibration from LUT features to end-to-end latency, fitted on architectures measured whole.
 *
 * Candidates, simplest first (all linear in additive features, so per-layer reasoning stays exact):
 *   sum+constant   y = correctedSum + c                 (the design's experiment: 28/30 within ±10 %)
 *   scale          y = a · correctedSum
 *   affine         y = a · correctedSum + c
 *   blocks         y = a · correctedSum + b · blocks + c                     (ridge, λ from a grid)
 *   full           y = a · correctedSum + b · blocks + d · MACs + e · bytes + c   (ridge, λ from a grid)
 * Fitted in ratio space (weights 1/y², i.e. minimising relative error, the metric that matters), made robust
 * with Huber reweighting of relative residuals, and chosen by cross-validated RMSPE (leave-one-out up to 60
 * samples, 10-fold beyond, interleaved folds): a more complex candidate
 * must beat the best simpler one by more than `SIMPLER_MODEL_MARGIN` (relative) to be chosen.
 */
export const CALIBRATION_FEATURES = ['correctedSumMs', 'blocks', 'macs', 'activationBytes'] as const;
export type CalibrationFeature = (typeof CALIBRATION_FEATURES)[number];

export const RIDGE_LAMBDAS = [0, 1e-3, 1e-2, 1e-1] as const;
export const SIMPLER_MODEL_MARGIN = 0.02;
/** Differences in cross-validated RMSPE below this are rounding, not evidence. */
const RMSPE_TIE = 1e-6;
const HUBER_K = 1.345;
const IRLS_ITERATIONS = 6;
/** A calibrated prediction never falls below this fraction of the overhead-corrected sum. */
export const MIN_FRACTION_OF_SUM = 0.25;

export interface CalibrationSample {
  readonly features: ArchitectureFeatures;
  readonly measuredMs: number;
  /** Relative trust in this measurement (default 1), e.g. 0.5 for a drift-flagged one. */
  readonly weight?: number;
}

export interface CandidateScore {
  readonly model: string;
  readonly lambda: number;
  /** Cross-validated (leave-one-out up to 60 samples) root mean squared percentage error, as a fraction. */
  readonly cvRmspe: number;
  /** Cross-validated share within ±10 %. */
  readonly cvWithin10: number;
}

/** Serialisable (plain JSON) calibration of one device profile. */
export interface Calibration {
  readonly version: 1;
  readonly model: string;
  readonly lambda: number;
  readonly intercept: number;
  readonly coefficients: Readonly<Partial<Record<CalibrationFeature, number>>>;
  /** Relative standard deviation of a prediction (the chosen model's cross-validated RMSPE). */
  readonly residualSigmaRel: number;
  readonly samples: number;
  /** Cross-validation folds used to choose the model (= samples for leave-one-out). */
  readonly folds: number;
  readonly candidates: readonly CandidateScore[];
}

interface ModelSpec {
  readonly model: string;
  /** Features with a fitted coefficient. */
  readonly free: readonly CalibrationFeature[];
  /** Features with a fixed coefficient (subtracted from the target). */
  readonly fixed: Readonly<Partial<Record<CalibrationFeature, number>>>;
  readonly intercept: boolean;
  readonly lambda: number;
}

interface LinearFit {
  readonly intercept: number;
  readonly coefficients: Partial<Record<CalibrationFeature, number>>;
}

function candidateSpecs(): ModelSpec[] {
  const specs: ModelSpec[] = [
    { model: 'sum+constant', free: [], fixed: { correctedSumMs: 1 }, intercept: true, lambda: 0 },
    { model: 'scale', free: ['correctedSumMs'], fixed: {}, intercept: false, lambda: 0 },
    { model: 'affine', free: ['correctedSumMs'], fixed: {}, intercept: true, lambda: 0 },
  ];
  // larger λ first: within one feature set the more regularised fit is the simpler one
  for (const lambda of [...RIDGE_LAMBDAS].reverse()) {
    specs.push({ model: 'blocks', free: ['correctedSumMs', 'blocks'], fixed: {}, intercept: true, lambda });
  }
  for (const lambda of [...RIDGE_LAMBDAS].reverse()) {
    specs.push({ model: 'full', free: [...CALIBRATION_FEATURES], fixed: {}, intercept: true, lambda });
  }
  return specs;
}

function parameterCount(spec: ModelSpec): number {
  return spec.free.length + (spec.intercept ? 1 : 0);
}

/** Solves A x = b (small, dense) by Gaussian elimination with partial pivoting. */
export function solveLinearSystem(a: readonly (readonly number[])[], b: readonly number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    [m[col], m[pivot]] = [m[pivot], m[col]];
    if (Math.abs(m[col][col]) < 1e-300) throw new Error('singular system');
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r][col] / m[col][col];
      if (f === 0) continue;
      for (let c = col; c <= n; c++) m[r][c] -= f * m[col][c];
    }
  }
  return m.map((row, i) => row[n] / row[i]);
}

function predictLinear(fit: LinearFit, features: ArchitectureFeatures): number {
  let y = fit.intercept;
  for (const f of CALIBRATION_FEATURES) y += (fit.coefficients[f] ?? 0) * features[f];
  return y;
}

/** Weighted ridge least squares of one spec; features are standardised so λ is scale-free. */
function weightedFit(
  spec: ModelSpec,
  samples: readonly CalibrationSample[],
  weights: readonly number[],
): LinearFit {
  const n = samples.length;
  let total = 0;
  for (let k = 0; k < n; k++) total += weights[k];
  const w = new Float64Array(n);
  const t = new Float64Array(n);
  let tMean = 0;
  for (let k = 0; k < n; k++) {
    w[k] = weights[k] / total;
    let target = samples[k].measuredMs;
    for (const f of CALIBRATION_FEATURES) target -= (spec.fixed[f] ?? 0) * samples[k].features[f];
    t[k] = target;
    if (spec.intercept) tMean += w[k] * target;
  }
  for (let k = 0; k < n; k++) t[k] -= tMean;
  const coefficients: Partial<Record<CalibrationFeature, number>> = { ...spec.fixed };
  // standardise; a constant feature (no information here) gets a zero coefficient
  const cols: { f: CalibrationFeature; mean: number; scale: number; z: Float64Array }[] = [];
  for (const f of spec.free) {
    let mu = 0;
    if (spec.intercept) for (let k = 0; k < n; k++) mu += w[k] * samples[k].features[f];
    let variance = 0;
    for (let k = 0; k < n; k++) variance += w[k] * (samples[k].features[f] - mu) ** 2;
    const scale = Math.sqrt(variance);
    if (!(scale > 0) || !Number.isFinite(scale)) {
      coefficients[f] = 0;
      continue;
    }
    const z = new Float64Array(n);
    for (let k = 0; k < n; k++) z[k] = (samples[k].features[f] - mu) / scale;
    cols.push({ f, mean: mu, scale, z });
  }
  const p = cols.length;
  let beta: number[] = [];
  if (p > 0) {
    const a: number[][] = [];
    const b: number[] = [];
    for (let i = 0; i < p; i++) {
      const row: number[] = [];
      for (let j = 0; j < p; j++) {
        let s = i === j ? spec.lambda : 0;
        for (let k = 0; k < n; k++) s += w[k] * cols[i].z[k] * cols[j].z[k];
        row.push(s);
      }
      a.push(row);
      let s = 0;
      for (let k = 0; k < n; k++) s += w[k] * cols[i].z[k] * t[k];
      b.push(s);
    }
    try {
      beta = solveLinearSystem(a, b);
    } catch {
      // perfectly collinear features: a tiny ridge picks the minimum-norm-like solution
      beta = solveLinearSystem(
        a.map((row, i) => row.map((v, j) => v + (i === j ? 1e-9 : 0))),
        b,
      );
    }
  }
  let intercept = tMean;
  cols.forEach((c, i) => {
    const raw = beta[i] / c.scale;
    coefficients[c.f] = raw;
    intercept -= raw * c.mean;
  });
  return { intercept: spec.intercept ? intercept : 0, coefficients };
}

/** Ratio-space fit with Huber reweighting of relative residuals (robust to a few bad measurements). */
function robustFit(spec: ModelSpec, samples: readonly CalibrationSample[]): LinearFit {
  const base = samples.map((s) => (s.weight ?? 1) / (s.measuredMs * s.measuredMs));
  let fit = weightedFit(spec, samples, base);
  let huber = samples.map(() => 1);
  for (let it = 0; it < IRLS_ITERATIONS; it++) {
    const rel = samples.map((s) => (predictLinear(fit, s.features) - s.measuredMs) / s.measuredMs);
    const center = median(rel);
    const sigma = MAD_TO_SIGMA * median(rel.map((r) => Math.abs(r - center)));
    if (!(sigma > 1e-12)) break;
    const next = rel.map((r) => Math.min(1, (HUBER_K * sigma) / Math.max(Math.abs(r), 1e-300)));
    const moved = next.reduce((m, h, i) => Math.max(m, Math.abs(h - huber[i])), 0);
    huber = next;
    if (moved < 1e-6 && it > 0) break; // converged
    fit = weightedFit(
      spec,
      samples,
      base.map((b, i) => b * huber[i]),
    );
  }
  return fit;
}

/** Leave-one-out up to this many samples; beyond it, `CV_FOLDS`-fold cross-validation keeps the fit fast. */
export const MAX_LEAVE_ONE_OUT = 60;
export const CV_FOLDS = 10;

function foldCount(n: number): number {
  return n <= MAX_LEAVE_ONE_OUT ? n : CV_FOLDS;
}

function scoreCandidate(spec: ModelSpec, samples: readonly CalibrationSample[]): CandidateScore {
  const folds = foldCount(samples.length);
  // weighted like the fit: a distrusted measurement counts for less in the score too
  let sq = 0;
  let within = 0;
  let total = 0;
  for (let fold = 0; fold < folds; fold++) {
    const fit = robustFit(
      spec,
      samples.filter((_, j) => j % folds !== fold),
    );
    for (let i = fold; i < samples.length; i += folds) {
      const s = samples[i];
      const w = s.weight ?? 1;
      const rel = (clampPrediction(predictLinear(fit, s.features), s.features) - s.measuredMs) / s.measuredMs;
      sq += w * rel * rel;
      if (Math.abs(rel) <= 0.1 + 1e-12) within += w;
      total += w;
    }
  }
  return {
    model: spec.model,
    lambda: spec.lambda,
    cvRmspe: Math.sqrt(sq / total),
    cvWithin10: within / total,
  };
}

function validateSamples(samples: readonly CalibrationSample[]): void {
  samples.forEach((s, i) => {
    if (!(s.measuredMs > 0) || !Number.isFinite(s.measuredMs))
      throw new Error(`calibration sample ${i}: measuredMs must be a positive finite number`);
    if (s.weight !== undefined && !(s.weight > 0 && Number.isFinite(s.weight)))
      throw new Error(`calibration sample ${i}: weight must be a positive finite number`);
    for (const f of CALIBRATION_FEATURES) {
      if (!Number.isFinite(s.features[f])) throw new Error(`calibration sample ${i}: ${f} must be finite`);
    }
  });
}

/**
 * Fits every candidate, scores each by cross-validated RMSPE and keeps the best (see the module comment).
 * Needs at least 3 samples; a candidate is only considered with ≥ (its parameters + 2) samples.
 */
export function fitCalibration(samples: readonly CalibrationSample[]): Calibration {
  if (samples.length < 3)
    throw new Error(`calibration needs at least 3 measured architectures, got ${samples.length}`);
  validateSamples(samples);
  const specs = candidateSpecs().filter((s) => samples.length >= parameterCount(s) + 2);
  const scores = specs.map((s) => scoreCandidate(s, samples));
  let best = 0;
  for (let i = 1; i < specs.length; i++) {
    if (scores[i].cvRmspe < scores[best].cvRmspe * (1 - SIMPLER_MODEL_MARGIN) - RMSPE_TIE) best = i;
  }
  const fit = robustFit(specs[best], samples);
  return {
    version: 1,
    model: specs[best].model,
    lambda: specs[best].lambda,
    intercept: fit.intercept,
    coefficients: fit.coefficients,
    residualSigmaRel: scores[best].cvRmspe,
    samples: samples.length,
    folds: foldCount(samples.length),
    candidates: scores,
  };
}

function clampPrediction(value: number, features: ArchitectureFeatures): number {
  return Math.max(value, MIN_FRACTION_OF_SUM * features.correctedSumMs);
}

export interface CalibratedLatency {
  readonly latencyMs: number;
  /** One standard deviation: `residualSigmaRel` × latency. */
  readonly uncertaintyMs: number;
}

export function applyCalibration(
  calibration: Calibration,
  features: ArchitectureFeatures,
): CalibratedLatency {
  const latencyMs = clampPrediction(predictLinear(calibration, features), features);
  return { latencyMs, uncertaintyMs: calibration.residualSigmaRel * latencyMs };
}

/**
 * What one priced component (a block, the stem or the head) adds to a calibrated prediction, ignoring the
 * clamp: exact for these linear models, so the fastest architecture can be chosen layer by layer.
 */
export function calibratedContribution(
  calibration: Calibration | undefined,
  part: {
    readonly ms: number;
    readonly blocks: number;
    readonly macs: number;
    readonly activationBytes: number;
  },
): number {
  if (!calibration) return part.ms;
  const c = calibration.coefficients;
  return (
    (c.correctedSumMs ?? 0) * part.ms +
    (c.blocks ?? 0) * part.blocks +
    (c.macs ?? 0) * part.macs +
    (c.activationBytes ?? 0) * part.activationBytes
  );
}
