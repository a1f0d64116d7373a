import {
  activationParams,
  quantizeBias,
  quantizeWeightsPerChannel,
  roundHalfToEven,
  weightQuantMax,
} from './params';
import { HistogramObserver, RangeObserver } from './observers';

describe('quantization parameters', () => {
  it('rounds half to even, as QuantizeLinear does', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfToEven)).toEqual([0, 2, 2, -0, -2, 2, 3]);
  });

  it('uint8 activation parameters cover the range widened to include 0', () => {
    // [-1, 3]: scale 4/255, zero point round(1 / (4/255)) = round(63.75) = 64
    const p = activationParams({ min: -1, max: 3 });
    expect(p.scale).toBeCloseTo(4 / 255, 7);
    expect(p.zeroPoint).toBe(64);
    // a ReLU output [0, 6] keeps zero point 0; a positive range [2, 5] is widened to [0, 5]
    expect(activationParams({ min: 0, max: 6 })).toEqual({ scale: Math.fround(6 / 255), zeroPoint: 0 });
    expect(activationParams({ min: 2, max: 5 })).toEqual({ scale: Math.fround(5 / 255), zeroPoint: 0 });
    expect(activationParams({ min: -4, max: -1 })).toEqual({ scale: Math.fround(4 / 255), zeroPoint: 255 });
    expect(activationParams({ min: 0, max: 0 })).toEqual({ scale: 1, zeroPoint: 0 });
    expect(() => activationParams({ min: 1, max: -1 })).toThrow(/min ≤ max/);
  });

  it('weights: symmetric per output channel, scale max|w_c| / 127 (or / 64 with the reduced range)', () => {
    const w = Float32Array.from([0.5, -2, 0.125, 0.5, 0, 0]);
    const full = quantizeWeightsPerChannel(w, 3, weightQuantMax(false));
    expect([...full.scales]).toEqual([2 / 127, 0.5 / 127, 1].map(Math.fround));
    // 0.5·127/2 = 31.75 → 32; −2 → −127; channel 2 is all zero (scale 1)
    expect([...full.values]).toEqual([32, -127, 32, 127, 0, 0]);
    const reduced = quantizeWeightsPerChannel(w, 3, weightQuantMax(true));
    expect([...reduced.scales]).toEqual([1 / 32, 1 / 128, 1]);
    expect([...reduced.values]).toEqual([16, -64, 16, 64, 0, 0]);
    expect(() => quantizeWeightsPerChannel(w, 4)).toThrow(/output channels/);
  });

  it('bias: int32 at scale s_input · s_weight,c', () => {
    const b = quantizeBias(Float32Array.from([0.25, -0.25]), 0.5, Float32Array.from([1 / 32, 1 / 128]));
    expect([...b.scales]).toEqual([1 / 64, 1 / 256]);
    expect([...b.values]).toEqual([16, -64]);
  });
});

describe('calibration observers', () => {
  it('min/max over several batches', () => {
    const r = new RangeObserver();
    r.observe([1, -2, 0.5]);
    r.observe(Float32Array.from([3, 0]));
    expect(r.range()).toEqual({ min: -2, max: 3 });
    expect(r.count).toBe(5);
  });

  it('the percentile range cuts equal tails and rounds outwards to bin edges', () => {
    // 0, 1, …, 9999 and one outlier at 1e6: 99.9 % keeps all but ~5 values per tail
    const values = Float32Array.from({ length: 10001 }, (_, i) => (i < 10000 ? i : 1e6));
    const h = new HistogramObserver({ min: 0, max: 1e6 }, 100000);
    h.observe(values);
    const r = h.percentileRange(99.9);
    expect(r.min).toBeGreaterThanOrEqual(0);
    expect(r.min).toBeLessThanOrEqual(10);
    expect(r.max).toBeGreaterThanOrEqual(9990);
    expect(r.max).toBeLessThanOrEqual(10000);
    // 99.999 % of 10001 values cuts less than one value per tail: nothing is cut
    expect(h.percentileRange(99.999)).toEqual({ min: 0, max: 1e6 });
  });

  it('a constant tensor keeps its single value', () => {
    const h = new HistogramObserver({ min: 2, max: 2 }, 16);
    h.observe([2, 2, 2]);
    expect(h.percentileRange(99)).toEqual({ min: 2, max: 2 });
  });
});
