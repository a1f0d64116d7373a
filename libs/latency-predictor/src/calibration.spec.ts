import { CalibrationSample, applyCalibration, fitCalibration, solveLinearSystem } from './calibration';
import { ArchitectureFeatures } from './features';

/** Deterministic pseudo-random numbers in [0, 1) (a small LCG), so the synthetic data are fixed. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function syntheticFeatures(n: number, seed: number): ArchitectureFeatures[] {
  const rnd = lcg(seed);
  return Array.from({ length: n }, () => {
    const blocks = 10 + Math.floor(rnd() * 13);
    const macs = 2e8 + rnd() * 4e8;
    const activationBytes = 3e7 + rnd() * 5e7;
    const correctedSumMs = 20 + rnd() * 40;
    return {
      lutSumMs: correctedSumMs + 5,
      correctedSumMs,
      networkOverheadMs: 0.3,
      blocks,
      macs,
      activationBytes,
    };
  });
}

function samples(
  features: ArchitectureFeatures[],
  f: (x: ArchitectureFeatures) => number,
): CalibrationSample[] {
  return features.map((x) => ({ features: x, measuredMs: f(x) }));
}

describe('solveLinearSystem', () => {
  it('solves a 3×3 system that needs pivoting', () => {
    const x = solveLinearSystem(
      [
        [0, 2, 1],
        [1, 1, 1],
        [2, 1, 3],
      ],
      [7, 6, 13],
    );
    expect(x[0]).toBeCloseTo(1, 12);
    expect(x[1]).toBeCloseTo(2, 12);
    expect(x[2]).toBeCloseTo(3, 12);
  });
});

describe('fitCalibration', () => {
  it('recovers exact linear data on all four features (the full model, no ridge)', () => {
    const truth = (x: ArchitectureFeatures) =>
      3 + 1.2 * x.correctedSumMs + 0.4 * x.blocks + 2e-8 * x.macs + 1e-7 * x.activationBytes;
    const cal = fitCalibration(samples(syntheticFeatures(30, 1), truth));
    expect(cal.model).toBe('full');
    expect(cal.lambda).toBe(0);
    expect(cal.intercept).toBeCloseTo(3, 5);
    expect(cal.coefficients.correctedSumMs).toBeCloseTo(1.2, 7);
    expect(cal.coefficients.blocks).toBeCloseTo(0.4, 7);
    expect(cal.coefficients.macs! / 2e-8).toBeCloseTo(1, 6);
    expect(cal.coefficients.activationBytes! / 1e-7).toBeCloseTo(1, 6);
    expect(cal.residualSigmaRel).toBeLessThan(1e-8);
    for (const x of syntheticFeatures(5, 99)) {
      expect(applyCalibration(cal, x).latencyMs / truth(x)).toBeCloseTo(1, 8);
    }
  });

  it('keeps the simplest exact model: LUT sum + constant', () => {
    const cal = fitCalibration(samples(syntheticFeatures(20, 2), (x) => x.correctedSumMs + 2.5));
    expect(cal.model).toBe('sum+constant');
    expect(cal.intercept).toBeCloseTo(2.5, 10);
    expect(cal.coefficients).toEqual({ correctedSumMs: 1 });
  });

  it('keeps a pure scale when latency is proportional to the sum', () => {
    const cal = fitCalibration(samples(syntheticFeatures(20, 3), (x) => 1.3 * x.correctedSumMs));
    expect(cal.model).toBe('scale');
    expect(cal.intercept).toBe(0);
    expect(cal.coefficients.correctedSumMs).toBeCloseTo(1.3, 10);
  });

  it('is robust to a grossly wrong measurement', () => {
    const data = samples(syntheticFeatures(25, 4), (x) => x.correctedSumMs + 2);
    const corrupted = data.map((s, i) => (i === 7 ? { ...s, measuredMs: s.measuredMs * 3 } : s));
    const cal = fitCalibration(corrupted);
    const x = syntheticFeatures(1, 5)[0];
    expect(applyCalibration(cal, x).latencyMs).toBeCloseTo(x.correctedSumMs + 2, 1);
    expect(cal.candidates.length).toBeGreaterThan(3);
  });

  it('reports a relative uncertainty from cross-validated residuals of noisy data', () => {
    const rnd = lcg(6);
    const cal = fitCalibration(
      samples(syntheticFeatures(40, 6), (x) => (x.correctedSumMs + 2) * (1 + 0.1 * (rnd() - 0.5))),
    );
    expect(cal.residualSigmaRel).toBeGreaterThan(0.01);
    expect(cal.residualSigmaRel).toBeLessThan(0.06);
    const x = syntheticFeatures(1, 7)[0];
    const p = applyCalibration(cal, x);
    expect(p.uncertaintyMs).toBeCloseTo(cal.residualSigmaRel * p.latencyMs, 12);
  });

  it('serialises to plain JSON and predicts the same after a round trip', () => {
    const cal = fitCalibration(
      samples(syntheticFeatures(15, 8), (x) => 0.9 * x.correctedSumMs + 0.1 * x.blocks + 1),
    );
    const copy = JSON.parse(JSON.stringify(cal));
    const x = syntheticFeatures(1, 9)[0];
    expect(applyCalibration(copy, x)).toEqual(applyCalibration(cal, x));
  });

  it('lets a low-weight sample count for less', () => {
    const data = samples(syntheticFeatures(12, 12), (x) => x.correctedSumMs + 2);
    const bad = { ...data[0], measuredMs: data[0].measuredMs * 1.5 };
    const x = syntheticFeatures(1, 13)[0];
    const trusted = applyCalibration(fitCalibration([bad, ...data.slice(1)]), x).latencyMs;
    const distrusted = applyCalibration(
      fitCalibration([{ ...bad, weight: 0.01 }, ...data.slice(1)]),
      x,
    ).latencyMs;
    const truth = x.correctedSumMs + 2;
    expect(Math.abs(distrusted - truth)).toBeLessThanOrEqual(Math.abs(trusted - truth));
    expect(distrusted).toBeCloseTo(truth, 1);
    expect(() => fitCalibration([{ ...bad, weight: 0 }, ...data.slice(1)])).toThrow(/sample 0: weight/);
  });

  it('refuses too few or invalid samples with the reason', () => {
    const data = samples(syntheticFeatures(3, 10), (x) => x.correctedSumMs);
    expect(() => fitCalibration(data.slice(0, 2))).toThrow(/at least 3/);
    expect(() => fitCalibration([...data.slice(0, 2), { ...data[2], measuredMs: -1 }])).toThrow(
      /sample 2: measuredMs/,
    );
  });
});

describe('fitCalibration on many samples', () => {
  it('switches from leave-one-out to 10-fold cross-validation above 60 samples', () => {
    const rnd = lcg(11);
    const data = samples(
      syntheticFeatures(80, 11),
      (x) => (x.correctedSumMs + 2) * (1 + 0.04 * (rnd() - 0.5)),
    );
    const cal = fitCalibration(data);
    expect(cal.folds).toBe(10);
    expect(fitCalibration(data.slice(0, 60)).folds).toBe(60);
    expect(cal.intercept + (cal.coefficients.correctedSumMs ?? 0) * 40).toBeCloseTo(42, 0);
  });
});
