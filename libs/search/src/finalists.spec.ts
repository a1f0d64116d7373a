import { markTies, selectFinalists, summarizeSeeds } from './finalists';

const point = (id: string, accuracy: number, latencyMs: number) => ({ id, accuracy, latencyMs });

describe('selectFinalists', () => {
  // Crowding by hand (accuracy range 0.4, latency range 4):
  // B: (0.62 − 0.5)/0.4 + (3 − 1)/4 = 0.8; C: (0.8 − 0.6)/0.4 + 0.5 = 1.0; D: (0.9 − 0.62)/0.4 + 0.5 = 1.2.
  const front = [
    point('A', 0.5, 1),
    point('B', 0.6, 2),
    point('C', 0.62, 3),
    point('D', 0.8, 4),
    point('E', 0.9, 5),
  ];

  it('takes the extremes first, then decreasing crowding distance', () => {
    const ids = (count: number) => selectFinalists(front, count).map((p) => p.id);
    expect(ids(2)).toEqual(['A', 'E']);
    expect(ids(3)).toEqual(['A', 'E', 'D']);
    expect(ids(4)).toEqual(['A', 'E', 'D', 'C']);
    expect(ids(0)).toEqual([]);
  });

  it('returns the whole front, in order, when it is no larger than count', () => {
    expect(selectFinalists(front, 5)).toEqual(front);
    expect(selectFinalists(front, 8)).toEqual(front);
    expect(selectFinalists([], 4)).toEqual([]);
  });

  it('breaks equal distances by front order', () => {
    // Evenly spaced: both middle points have distance 0.5/0.75 + 2/3.
    const even = [point('p0', 0.25, 1), point('p1', 0.5, 2), point('p2', 0.75, 3), point('p3', 1, 4)];
    expect(selectFinalists(even, 3).map((p) => p.id)).toEqual(['p0', 'p3', 'p1']);
    const reversed = [...even].reverse();
    expect(selectFinalists(reversed, 3).map((p) => p.id)).toEqual(['p3', 'p0', 'p2']);
  });
});

describe('summarizeSeeds', () => {
  it('gives mean, sample sd, range and count', () => {
    const two = summarizeSeeds([0.7, 0.8]);
    expect(two.mean).toBeCloseTo(0.75, 12);
    expect(two.sd).toBeCloseTo(Math.sqrt(0.005), 12);
    expect([two.min, two.max, two.n]).toEqual([0.7, 0.8, 2]);
    const four = summarizeSeeds([1, 2, 3, 4]);
    expect(four.mean).toBe(2.5);
    expect(four.sd).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(summarizeSeeds([0.5])).toEqual({ mean: 0.5, sd: 0, min: 0.5, max: 0.5, n: 1 });
  });

  it('refuses an empty list', () => {
    expect(() => summarizeSeeds([])).toThrow(/at least one value/);
  });
});

describe('markTies', () => {
  it('ties members whose means differ by less than the larger seed range', () => {
    const ties = markTies([
      { id: 'A', seeds: [0.7, 0.76] }, // mean 0.73, range 0.06
      { id: 'B', seeds: [0.75, 0.77] }, // mean 0.76, range 0.02: 0.03 from A < 0.06 → tied
      { id: 'C', seeds: [0.8, 0.81] }, // mean 0.805, range 0.01: 0.045 from B > 0.02, 0.075 from A > 0.06
    ]);
    expect(Object.fromEntries(ties)).toEqual({ A: ['B'], B: ['A'], C: [] });
  });

  it('is symmetric but not transitive', () => {
    const ties = markTies([
      { id: 'X', seeds: [0.6, 0.7] }, // mean 0.65, range 0.1
      { id: 'Y', seeds: [0.66, 0.8] }, // mean 0.73, range 0.14: 0.08 from X → tied
      { id: 'Z', seeds: [0.84, 0.86] }, // mean 0.85, range 0.02: 0.12 from Y < 0.14 → tied; 0.2 from X → not
    ]);
    expect(Object.fromEntries(ties)).toEqual({ X: ['Y'], Y: ['X', 'Z'], Z: ['Y'] });
  });

  it('ties equal means even without spread, and never a member with itself', () => {
    const ties = markTies([
      { id: 'D', seeds: [0.5, 0.5] },
      { id: 'E', seeds: [0.5] },
      { id: 'F', seeds: [0.6, 0.6] },
    ]);
    expect(Object.fromEntries(ties)).toEqual({ D: ['E'], E: ['D'], F: [] });
  });
});
