import {
  Architecture,
  ArchitectureError,
  BlockType,
  MacroConfig,
  countCost,
  parseSignatureKey,
  signatureKey,
} from '@edgenas/search-space';
import { signatureFeatures } from './features';
import { Calibration } from './calibration';
import { LatencyLut, LutEntry } from './lut';
import { MissingSignaturesError, fastestAchievableLatency, predictLatency } from './predict';

/** Three searchable layers: 8→8 s1, 8→8 s1, 8→16 s2, on a 16×16×3 input (stem stride 2 → 8×8). */
const TINY: MacroConfig = {
  name: 'tiny',
  input: { height: 16, width: 16, channels: 3 },
  stem: { channels: 8, kernel: 3, stride: 2 },
  stages: [
    { channels: 8, repeats: 2, firstStride: 1 },
    { channels: 16, repeats: 1, firstStride: 2 },
  ],
  head: { channels: 32 },
  classes: 10,
};

const STEM = 'stem_k3:s2:c3-8:16x16:relu';
const K3E1_L0 = 'ir_k3_e1:s1:c8-8:8x8:relu';
const K5E6_L2 = 'ir_k5_e6:s2:c8-16:8x8:relu';
const K3E1_L2 = 'ir_k3_e1:s2:c8-16:8x8:relu';
const HEAD = 'head:s1:c16-32:4x4:relu:n10';

function entry(key: string, estimateMs: number, overheadMs: number, spreadMs = 0): LutEntry {
  return {
    key,
    signature: parseSignatureKey(key),
    estimateMs,
    overheadMs,
    spreadMs,
    count: 1,
    used: 1,
    rejected: 0,
    driftExcluded: 0,
    driftFlagged: false,
    lastMeasuredAt: '2026-01-01T00:00:00.000Z',
  };
}

function lutOf(...entries: LutEntry[]): LatencyLut {
  return Object.fromEntries(entries.map((e) => [e.key, e]));
}

const FULL = lutOf(
  entry(STEM, 1.0, 0.2),
  entry(K3E1_L0, 2.0, 0.2),
  entry(K5E6_L2, 3.0, 0.2),
  entry(HEAD, 0.5, 0.2),
);
const arch = (...blocks: BlockType[]): Architecture => ({ blocks });

describe('predictLatency', () => {
  it('sums estimates minus isolated overheads, plus one network overhead (skip is free)', () => {
    const p = predictLatency(arch('ir_k3_e1', 'skip', 'ir_k5_e6'), TINY, FULL);
    expect(p.lutSumMs).toBeCloseTo(1 + 2 + 3 + 0.5, 12);
    // (0.8 + 1.8 + 2.8 + 0.3) + 0.2
    expect(p.correctedSumMs).toBeCloseTo(5.9, 12);
    expect(p.latencyMs).toBeCloseTo(5.9, 12);
    expect(p.networkOverheadMs).toBeCloseTo(0.2, 12);
    expect(p.calibrated).toBe(false);
    expect(p.estimated).toEqual([]);
    expect(p.features.blocks).toBe(2);
    expect(p.breakdown.map((b) => [b.layer, b.key])).toEqual([
      ['stem', STEM],
      [0, K3E1_L0],
      [1, null],
      [2, K5E6_L2],
      ['head', HEAD],
    ]);
    expect(p.breakdown[1].ms).toBeCloseTo(1.8, 12);
    expect(p.uncertaintyMs).toBeGreaterThan(0);
  });

  it('counts a signature once per layer that uses it', () => {
    const p = predictLatency(arch('ir_k3_e1', 'ir_k3_e1', 'ir_k5_e6'), TINY, FULL);
    expect(p.lutSumMs).toBeCloseTo(8.5, 12);
    expect(p.correctedSumMs).toBeCloseTo(7.7, 12);
  });

  it('applies a calibration to the features', () => {
    const calibration: Calibration = {
      version: 1,
      model: 'affine',
      lambda: 0,
      intercept: 1,
      coefficients: { correctedSumMs: 2 },
      residualSigmaRel: 0.05,
      samples: 10,
      folds: 10,
      candidates: [],
    };
    const p = predictLatency(
      arch('ir_k3_e1', 'skip', 'ir_k5_e6'),
      TINY,
      JSON.parse(JSON.stringify(FULL)),
      calibration,
    );
    expect(p.latencyMs).toBeCloseTo(12.8, 12);
    expect(p.uncertaintyMs).toBeCloseTo(0.64, 12);
    expect(p.calibrated).toBe(true);
  });

  it('names every missing signature, never pricing it as zero', () => {
    const lut = lutOf(entry(STEM, 1, 0.2), entry(K3E1_L0, 2, 0.2));
    let error: unknown;
    try {
      predictLatency(arch('ir_k3_e1', 'ir_k3_e1', 'ir_k5_e6'), TINY, lut);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MissingSignaturesError);
    const missing = error as MissingSignaturesError;
    expect(missing.keys).toEqual([K5E6_L2, HEAD]);
    expect(missing.missing.map(signatureKey)).toEqual([K5E6_L2, HEAD]);
    expect(missing.message).toContain(K5E6_L2);
    expect(missing.message).toContain(HEAD);
  });

  it('with allowEstimates, prices a missing block at the ms-per-MAC rate of its op family and flags it', () => {
    const lut = lutOf(entry(STEM, 1, 0.2), entry(K3E1_L0, 2, 0.2), entry(HEAD, 0.5, 0.2));
    const p = predictLatency(arch('ir_k3_e1', 'skip', 'ir_k5_e6'), TINY, lut, undefined, {
      allowEstimates: true,
    });
    // ir_k3_e1 at 8×8, 8→8: 4096 + 4608 + 4096 = 12800 MACs for 1.8 ms
    // ir_k5_e6 8→16 s2: 8·8·8·48 + 4·4·48·25 + 4·4·48·16 = 56064 MACs
    const estimate = (56064 * 1.8) / 12800;
    expect(p.estimated).toEqual([K5E6_L2]);
    expect(p.breakdown[3]).toMatchObject({ key: K5E6_L2, estimated: true });
    expect(p.breakdown[3].ms).toBeCloseTo(estimate, 9);
    expect(p.correctedSumMs).toBeCloseTo(0.8 + 1.8 + estimate + 0.3 + 0.2, 9);
  });

  it('refuses an architecture that does not fit the config, naming the layer', () => {
    expect(() => predictLatency(arch('ir_k3_e1', 'skip'), TINY, FULL)).toThrow(ArchitectureError);
    expect(() => predictLatency(arch('ir_k3_e1', 'skip', 'skip'), TINY, FULL)).toThrow(/layer 2|skip/);
  });

  it('with allowEstimates but nothing to estimate from, still throws', () => {
    expect(() =>
      predictLatency(arch('ir_k3_e1', 'skip', 'ir_k5_e6'), TINY, {}, undefined, { allowEstimates: true }),
    ).toThrow(MissingSignaturesError);
  });
});

describe('fastestAchievableLatency', () => {
  const lut = lutOf(
    entry(STEM, 1, 0.2),
    entry(HEAD, 0.5, 0.2),
    entry(K3E1_L0, 2, 0.2),
    entry('ir_k5_e6:s1:c8-8:8x8:relu', 4, 0.2),
    entry(K5E6_L2, 3, 0.2),
    entry(K3E1_L2, 1.5, 0.2),
  );

  it('picks the cheapest priced block per layer and skip where allowed', () => {
    const f = fastestAchievableLatency(TINY, lut);
    // layer 0 changes nothing (8→8 s1): skip is allowed there too
    expect(f.architecture.blocks).toEqual(['skip', 'skip', 'ir_k3_e1']);
    expect(f.latencyMs).toBeCloseTo(0.8 + 1.3 + 0.3 + 0.2, 12);
    expect(f.unpriced.length).toBeGreaterThan(0);
  });

  it('without skip, pays for the cheapest block everywhere', () => {
    const f = fastestAchievableLatency(TINY, lut, undefined, ['ir_k3_e1', 'ir_k5_e6']);
    expect(f.architecture.blocks).toEqual(['ir_k3_e1', 'ir_k3_e1', 'ir_k3_e1']);
    expect(f.latencyMs).toBeCloseTo(0.8 + 1.8 + 1.8 + 1.3 + 0.3 + 0.2, 12);
    expect(f.unpriced).toEqual([]);
  });

  it('follows the calibration when it prices blocks differently from the sum', () => {
    // at layer 2, ir_k5_e6 is cheaper by the sum (0.8 vs 1.3 ms) but has 56064 MACs against 7296
    const cheapBig = { ...lut, [K5E6_L2]: entry(K5E6_L2, 1.0, 0.2) };
    expect(
      fastestAchievableLatency(TINY, cheapBig, undefined, ['ir_k3_e1', 'ir_k5_e6']).architecture.blocks[2],
    ).toBe('ir_k5_e6');
    const macHeavy: Calibration = {
      version: 1,
      model: 'full',
      lambda: 0,
      intercept: 0,
      coefficients: { correctedSumMs: 1, macs: 1e-3 },
      residualSigmaRel: 0.05,
      samples: 10,
      folds: 10,
      candidates: [],
    };
    const f = fastestAchievableLatency(TINY, cheapBig, macHeavy, ['ir_k3_e1', 'ir_k5_e6']);
    expect(f.architecture.blocks).toEqual(['ir_k3_e1', 'ir_k3_e1', 'ir_k3_e1']);
    expect(f.latencyMs).toBeCloseTo(predictLatency(f.architecture, TINY, cheapBig, macHeavy).latencyMs, 12);
  });

  it('throws naming what a layer lacks when no choice there is priced', () => {
    const sparse = lutOf(entry(STEM, 1, 0.2), entry(HEAD, 0.5, 0.2), entry(K3E1_L0, 2, 0.2));
    expect(() => fastestAchievableLatency(TINY, sparse, undefined, ['ir_k3_e1'])).toThrow(K3E1_L2);
  });
});

describe('prediction features', () => {
  it('counts memory traffic per op and MACs as countCost does', () => {
    // ir_k3_e1 8→8 at 8×8: three ops moving 64·16 elements each, plus the residual add (3 · 64 · 8)
    expect(signatureFeatures(parseSignatureKey(K3E1_L0))).toMatchObject({
      macs: 12800,
      activationBytes: 4 * 4608,
    });
    const a = arch('ir_k3_e1', 'ir_k3_e1', 'ir_k5_e6');
    expect(predictLatency(a, TINY, FULL).features.macs).toBe(countCost(a, TINY).macs);
  });
});
