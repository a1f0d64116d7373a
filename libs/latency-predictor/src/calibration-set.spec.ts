import {
  PROXY_28,
  architectureId,
  assertValidArchitecture,
  createRng,
  sampleArchitecture,
} from '@edgenas/search-space';
import { chooseCalibrationSet, chooseReferenceNetworks } from './calibration-set';
import { buildLut } from './lut';
import { MissingSignaturesError, predictLatency } from './predict';
import { lutRows } from './test-rows.fixture';

const LUT = buildLut(lutRows(PROXY_28));

describe('chooseCalibrationSet', () => {
  const set = chooseCalibrationSet(PROXY_28, LUT, { size: 20, seed: 1 });

  it('picks the asked number of distinct valid architectures, in ascending predicted latency', () => {
    expect(set).toHaveLength(20);
    expect(new Set(set.map((m) => architectureId(m.architecture))).size).toBe(20);
    for (const m of set) {
      expect(() => assertValidArchitecture(m.architecture, PROXY_28)).not.toThrow();
      expect(m.predictedMs).toBeCloseTo(predictLatency(m.architecture, PROXY_28, LUT).correctedSumMs, 12);
    }
    const ms = set.map((m) => m.predictedMs);
    expect([...ms].sort((a, b) => a - b)).toEqual(ms);
  });

  it('is deterministic per space and seed, and another seed gives another set', () => {
    const ids = (s: typeof set) => s.map((m) => architectureId(m.architecture));
    expect(ids(chooseCalibrationSet(PROXY_28, LUT, { size: 20, seed: 1 }))).toEqual(ids(set));
    expect(ids(chooseCalibrationSet(PROXY_28, LUT, { size: 20, seed: 2 }))).not.toEqual(ids(set));
  });

  it('spreads over the predicted-latency range, far wider than uniform sampling, evenly', () => {
    const rng = createRng(1);
    const uniform = Array.from(
      { length: 20 },
      () => predictLatency(sampleArchitecture(PROXY_28, rng), PROXY_28, LUT).correctedSumMs,
    );
    const range = (xs: number[]) => Math.max(...xs) - Math.min(...xs);
    const ms = set.map((m) => m.predictedMs);
    expect(range(ms)).toBeGreaterThan(2 * range(uniform));
    // five equal-width bins over the set's range hold 4 members each, give or take one
    const lo = ms[0];
    const width = range(ms) / 5;
    const counts = [0, 0, 0, 0, 0];
    for (const x of ms) counts[Math.min(4, Math.floor((x - lo) / width))]++;
    for (const c of counts) expect(Math.abs(c - 4)).toBeLessThanOrEqual(1);
  });

  it('names the missing signatures when the LUT cannot price the space', () => {
    const partial = buildLut(lutRows(PROXY_28).slice(0, 10));
    expect(() => chooseCalibrationSet(PROXY_28, partial)).toThrow(MissingSignaturesError);
  });
});

describe('chooseReferenceNetworks', () => {
  const members = [5, 1, 4, 2, 3, 9, 7, 8, 6].map((ms) => ({ architecture: `n${ms}`, measuredMs: ms }));

  it('takes evenly spaced members by measured latency, the fastest and the slowest included', () => {
    expect(chooseReferenceNetworks(members, 5).map((m) => m.measuredMs)).toEqual([1, 3, 5, 7, 9]);
    expect(chooseReferenceNetworks(members, 3).map((m) => m.measuredMs)).toEqual([1, 5, 9]);
  });

  it('takes all members when there are no more than asked, and orders ties by text', () => {
    expect(chooseReferenceNetworks(members.slice(0, 3), 5).map((m) => m.measuredMs)).toEqual([1, 4, 5]);
    const tied = [
      { architecture: 'b', measuredMs: 1 },
      { architecture: 'a', measuredMs: 1 },
    ];
    expect(chooseReferenceNetworks(tied, 1)).toEqual([{ architecture: 'a', measuredMs: 1 }]);
  });
});
