import { CalibrationSample } from './calibration';
import { ArchitectureFeatures } from './features';
import {
  evaluatePredictions,
  kendallTau,
  macProportionalBaseline,
  noiseFloor,
  rawLutSumBaseline,
  shareWithin,
} from './evaluation';

function features(macs: number, lutSumMs: number): ArchitectureFeatures {
  return { lutSumMs, correctedSumMs: lutSumMs, networkOverheadMs: 0, blocks: 1, macs, activationBytes: 0 };
}

describe('kendallTau (tau-b)', () => {
  it('matches hand-computed values', () => {
    expect(kendallTau([1, 2, 3, 4], [1, 2, 3, 4])).toBe(1);
    expect(kendallTau([1, 2, 3, 4], [4, 3, 2, 1])).toBe(-1);
    // one discordant pair (2,3) of six
    expect(kendallTau([1, 2, 3, 4], [1, 3, 2, 4])).toBeCloseTo(4 / 6, 12);
  });

  it('handles ties in either list', () => {
    // pairs: 4 concordant, one tied in x only, one tied in y only → 4 / √(5 · 5)
    expect(kendallTau([1, 2, 2, 3], [1, 2, 3, 3])).toBeCloseTo(0.8, 12);
    // x ties (2,3); y has none: concordant (1,2),(1,3),(1,4),(2,4),(3,4)=5... minus none → 5 / √(5 · 6)
    expect(kendallTau([1, 2, 2, 3], [1, 2, 3, 4])).toBeCloseTo(5 / Math.sqrt(30), 12);
    expect(kendallTau([5, 5, 5], [1, 2, 3])).toBeNaN();
  });
});

describe('evaluatePredictions', () => {
  it('computes the shares within ±5 % and ±10 % (bounds inclusive) and RMSPE', () => {
    const q = evaluatePredictions([110, 90, 100, 104, 150], [100, 100, 100, 100, 100]);
    expect(q.n).toBe(5);
    expect(q.within5).toBeCloseTo(2 / 5, 12);
    expect(q.within10).toBeCloseTo(4 / 5, 12);
    expect(q.rmspe).toBeCloseTo(Math.sqrt((0.01 + 0.01 + 0 + 0.0016 + 0.25) / 5), 12);
    expect(q.kendallTau).toBeNaN(); // measured all tied
  });

  it('rejects mismatched or non-positive measurements', () => {
    expect(() => evaluatePredictions([1, 2], [1])).toThrow(/differ in length/);
    expect(() => evaluatePredictions([1], [0])).toThrow(/measured\[0\]/);
  });
});

describe('baselines and noise floor', () => {
  it('MAC-proportional fits ms per MAC in ratio space', () => {
    const train: CalibrationSample[] = [
      { features: features(1e6, 0), measuredMs: 2 },
      { features: features(3e6, 0), measuredMs: 6 },
    ];
    expect(macProportionalBaseline(train, [features(5e6, 0)])[0]).toBeCloseTo(10, 9);
    // y = 1, 4 at macs 1, 2: k = Σ(m/y) / Σ(m/y)² = (1 + 0.5) / (1 + 0.25) = 1.2
    const uneven: CalibrationSample[] = [
      { features: features(1, 0), measuredMs: 1 },
      { features: features(2, 0), measuredMs: 4 },
    ];
    expect(macProportionalBaseline(uneven, [features(10, 0)])[0]).toBeCloseTo(12, 9);
  });

  it('raw LUT sum is the uncorrected sum', () => {
    expect(rawLutSumBaseline([features(0, 7.5), features(0, 3)])).toEqual([7.5, 3]);
  });

  it('noise floor is the share of two rounds within ±10 %', () => {
    expect(noiseFloor([10, 11, 12, 10], [10, 10, 10, 11])).toBeCloseTo(3 / 4, 12);
    expect(shareWithin([10.5], [10], 0.05)).toBe(1);
  });
});
