import { PROXY_28, createRng, sampleArchitecture } from '@edgenas/search-space';
import { latencyRange, quantile } from './latency-range';
import { buildLut } from './lut';
import { MissingSignaturesError, fastestAchievableLatency, predictLatency } from './predict';
import { lutRows } from './test-rows.fixture';

const LUT = buildLut(lutRows(PROXY_28));

describe('latencyRange', () => {
  const range = latencyRange(PROXY_28, LUT, undefined, { samples: 100, seed: 3 });

  it('orders fastest ≤ sampled fastest ≤ p10 ≤ median ≤ p90 ≤ sampled slowest, and suggests the median', () => {
    const ms = [
      range.fastestAchievableMs,
      range.sampledFastestMs,
      range.p10Ms,
      range.medianMs,
      range.p90Ms,
      range.sampledSlowestMs,
    ];
    expect([...ms].sort((a, b) => a - b)).toEqual(ms);
    expect(range.fastestAchievableMs).toBe(fastestAchievableLatency(PROXY_28, LUT).latencyMs);
    expect(range.suggestedBudgetMs).toBe(range.medianMs);
    expect(range.sampledSlowestMs).toBeGreaterThan(range.medianMs);
  });

  it('is the predicted latency of the seeded sample: half of it fits the suggested budget', () => {
    const rng = createRng(3);
    const sampled = Array.from(
      { length: 100 },
      () => predictLatency(sampleArchitecture(PROXY_28, rng), PROXY_28, LUT).latencyMs,
    ).sort((a, b) => a - b);
    expect(range.sampledFastestMs).toBe(sampled[0]);
    expect(range.sampledSlowestMs).toBe(sampled[99]);
    expect(sampled.filter((ms) => ms <= range.suggestedBudgetMs)).toHaveLength(50);
  });

  it('is deterministic per seed; another seed gives another sample', () => {
    expect(latencyRange(PROXY_28, LUT, undefined, { samples: 100, seed: 3 })).toEqual(range);
    expect(latencyRange(PROXY_28, LUT, undefined, { samples: 100, seed: 4 }).medianMs).not.toBe(
      range.medianMs,
    );
  });

  it('refuses a LUT that cannot price the space, and a sample size that is not a positive integer', () => {
    expect(() => latencyRange(PROXY_28, buildLut(lutRows(PROXY_28).slice(0, 3)), undefined)).toThrow(
      MissingSignaturesError,
    );
    expect(() => latencyRange(PROXY_28, LUT, undefined, { samples: 0 })).toThrow(/positive integer/);
  });
});

describe('quantile', () => {
  it('interpolates between order statistics', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4], 0)).toBe(1);
    expect(quantile([1, 2, 3, 4], 1)).toBe(4);
    expect(quantile([5], 0.9)).toBe(5);
  });
});
