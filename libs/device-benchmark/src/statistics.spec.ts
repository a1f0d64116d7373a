import { percentile } from '@edgenas/latency-predictor';
import {
  DriftMonitor,
  driftExceeded,
  relativeChange,
  repeatsForItem,
  roundStats,
  summarizeRounds,
} from './statistics';

describe('percentile', () => {
  it('interpolates linearly between order statistics, whatever the input order', () => {
    const xs = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5];
    expect(percentile(xs, 0)).toBe(1);
    expect(percentile(xs, 1)).toBe(10);
    expect(percentile(xs, 0.5)).toBeCloseTo(5.5);
    expect(percentile(xs, 0.1)).toBeCloseTo(1.9);
    expect(percentile(xs, 0.9)).toBeCloseTo(9.1);
  });

  it('rejects empty samples and ranks outside [0, 1]', () => {
    expect(() => percentile([], 0.5)).toThrow(/empty/);
    expect(() => percentile([1], 1.5)).toThrow(/rank/);
    expect(() => percentile([1], Number.NaN)).toThrow(/rank/);
  });
});

describe('summarizeRounds', () => {
  it('takes the median over rounds of each round p10, not the pooled p10', () => {
    // Round p10s: 1.9, 11.8 (round 2 is shifted by +10 and has 2 at the bottom), 3.9 → median 3.9.
    const r1 = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const r2 = [2, 12, 13, 14, 15, 16, 17, 18, 19, 20];
    const r3 = r1.map((x) => x + 2);
    const s = summarizeRounds([r1, r2, r3]);
    expect(roundStats(r2).p10).toBeCloseTo(11);
    expect(s.estimateMs).toBeCloseTo(3.9);
    expect(s.p10Ms).toBeCloseTo(3.9);
    // Round medians 5.5, 15.5, 7.5 → 7.5; round p90s 9.1, 19.1, 11.1 → 11.1.
    expect(s.medianMs).toBeCloseTo(7.5);
    expect(s.p90Ms).toBeCloseTo(11.1);
    expect(s.rounds).toBe(3);
    expect(s.repeatsPerRound).toBe(10);
  });

  it('is robust to one slow round (a neighbour process took the core)', () => {
    const fast = [5, 5.1, 5.2, 5.1, 5.0];
    const slow = fast.map((x) => x * 3);
    const s = summarizeRounds([fast, slow, fast, fast, slow]);
    expect(s.estimateMs).toBeCloseTo(percentile(fast, 0.1));
  });

  it('refuses to summarize nothing', () => {
    expect(() => summarizeRounds([])).toThrow(/no timed runs/);
    expect(() => summarizeRounds([[], []])).toThrow(/no timed runs/);
  });
});

describe('drift check', () => {
  it('flags a reference that moved more than 10 % either way', () => {
    expect(relativeChange(10, 11)).toBeCloseTo(0.1);
    expect(driftExceeded(10, 10.9)).toBe(false);
    expect(driftExceeded(10, 11.2)).toBe(true);
    expect(driftExceeded(10, 8.8)).toBe(true);
    expect(driftExceeded(10, 9.2)).toBe(false);
    expect(driftExceeded(10, 12, 0.25)).toBe(false);
  });

  it('needs a positive baseline', () => {
    expect(() => driftExceeded(0, 1)).toThrow(/positive/);
  });
});

describe('DriftMonitor', () => {
  it('takes the first chunk as the baseline and flags later chunks whose reference moved > tolerance', () => {
    const m = new DriftMonitor(0.1);
    expect(m.observe(10)).toBe(false);
    expect(m.observe(10.5)).toBe(false);
    expect(m.observe(11.5)).toBe(true);
    // The baseline stays the first chunk's: a slow drift cannot hide by small steps.
    expect(m.observe(10.9)).toBe(false);
    expect(m.observe(8.5)).toBe(true);
  });
});

describe('repeatsForItem', () => {
  const opts = { minRepeats: 5, maxRepeats: 100, minRoundMs: 20 };
  it('gives fast items more runs per round, within bounds', () => {
    expect(repeatsForItem(10, opts)).toBe(5);
    expect(repeatsForItem(1, opts)).toBe(20);
    expect(repeatsForItem(0.01, opts)).toBe(100);
    expect(repeatsForItem(0, opts)).toBe(100);
  });
});
