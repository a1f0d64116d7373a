/** Small robust-statistics helpers (pure; no Node modules, safe in workflow code). */

/** Scale that turns a median absolute deviation into a normal-consistent standard deviation. */
export const MAD_TO_SIGMA = 1.4826;

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of an empty list');
  const s = Float64Array.from(values).sort(); // numeric sort, much faster than a comparator
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Percentile q ∈ [0, 1] of a sample, linear interpolation between order statistics. */
export function percentile(samples: readonly number[], q: number): number {
  if (samples.length === 0) throw new Error('percentile of an empty sample');
  if (!(q >= 0 && q <= 1)) throw new Error(`percentile rank must be in [0, 1], got ${q}`);
  const sorted = Float64Array.from(samples).sort();
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Weighted median: the smallest value whose cumulative weight reaches half the total; when a value's
 * cumulative weight hits exactly half, the mean with the next value (so equal weights give the usual median).
 */
export function weightedMedian(values: readonly number[], weights: readonly number[]): number {
  if (values.length === 0) throw new Error('weighted median of an empty list');
  if (values.length !== weights.length) throw new Error('values and weights differ in length');
  const items = values.map((v, i) => ({ v, w: weights[i] })).sort((a, b) => a.v - b.v);
  const total = items.reduce((s, it) => s + it.w, 0);
  if (!(total > 0)) throw new Error('weighted median needs a positive total weight');
  const half = total / 2;
  const eps = total * 1e-12;
  let cum = 0;
  for (let i = 0; i < items.length; i++) {
    cum += items[i].w;
    if (Math.abs(cum - half) <= eps && i + 1 < items.length) return (items[i].v + items[i + 1].v) / 2;
    if (cum > half) return items[i].v;
  }
  return items[items.length - 1].v;
}

/** Median absolute deviation from the median (unscaled). */
export function mad(values: readonly number[], center = median(values)): number {
  return median(values.map((v) => Math.abs(v - center)));
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new Error('mean of an empty list');
  return values.reduce((s, v) => s + v, 0) / values.length;
}
