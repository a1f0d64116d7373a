import { constrainedDominates, dominates } from './objectives';
import { crowdingDistance, nonDominatedSort, paretoFront, paretoRanks } from './pareto';
import { hypervolume2d, hypervolumeReference, normalizedHypervolume } from './hypervolume';
import { crowdedBetter, rankAndCrowding, selectSurvivors } from './nsga2';
import { Candidate } from './state';

const p = (accuracy: number, latencyMs: number) => ({ accuracy, latencyMs });

describe('dominance', () => {
  it('is strict in at least one objective (accuracy up, latency down)', () => {
    expect(dominates(p(0.9, 5), p(0.8, 5))).toBe(true);
    expect(dominates(p(0.9, 5), p(0.9, 6))).toBe(true);
    expect(dominates(p(0.9, 5), p(0.9, 5))).toBe(false);
    expect(dominates(p(0.9, 6), p(0.8, 5))).toBe(false);
    expect(dominates(p(0.8, 5), p(0.9, 6))).toBe(false);
  });

  it('puts feasible before infeasible, and infeasible by violation, under a budget', () => {
    expect(constrainedDominates(p(0.1, 9), p(0.99, 11), 10)).toBe(true);
    expect(constrainedDominates(p(0.1, 11), p(0.99, 12), 10)).toBe(true);
    expect(constrainedDominates(p(0.99, 12), p(0.1, 11), 10)).toBe(false);
    expect(constrainedDominates(p(0.99, 11), p(0.1, 11), 10)).toBe(false);
  });
});

describe('nonDominatedSort', () => {
  // A (0.9, 10) and E (its twin) and B (0.8, 5) are mutually non-dominated; C (0.7, 8) is dominated by B only;
  // D (0.6, 12) by A, B, C and E.
  const A = p(0.9, 10);
  const B = p(0.8, 5);
  const C = p(0.7, 8);
  const D = p(0.6, 12);
  const E = p(0.9, 10);

  it('groups a hand-computed example into its fronts', () => {
    expect(nonDominatedSort([D, C, A, B, E])).toEqual([[2, 3, 4], [1], [0]]);
    expect(paretoRanks([D, C, A, B, E])).toEqual([2, 1, 0, 0, 0]);
  });

  it('ranks a chain one front per point', () => {
    const chain = [p(0.5, 5), p(0.7, 3), p(0.6, 4), p(0.8, 2)];
    expect(nonDominatedSort(chain)).toEqual([[3], [1], [2], [0]]);
  });

  it('under a 9 ms budget: feasible fronts first, then infeasible by violation', () => {
    const F = p(0.95, 9.5);
    // feasible: B dominates C; infeasible: F (0.5 over) < A = E (1 over) < D (3 over).
    expect(nonDominatedSort([A, B, C, D, E, F], 9)).toEqual([[1], [2], [5], [0, 4], [3]]);
  });

  it('handles empty and single inputs', () => {
    expect(nonDominatedSort([])).toEqual([]);
    expect(nonDominatedSort([A])).toEqual([[0]]);
  });
});

describe('crowdingDistance', () => {
  it('matches a hand computation (input order kept)', () => {
    // Sorted by either objective the order is P1 P2 P3 P4; accuracy range 0.4, latency range 8.
    // P2: (0.8 - 0.5) / 0.4 + (5 - 2) / 8 = 0.75 + 0.375; P3: (0.9 - 0.6) / 0.4 + (10 - 4) / 8 = 0.75 + 0.75.
    const P1 = p(0.5, 2);
    const P2 = p(0.6, 4);
    const P3 = p(0.8, 5);
    const P4 = p(0.9, 10);
    const d = crowdingDistance([P3, P1, P4, P2]);
    expect(d[0]).toBeCloseTo(1.5, 12);
    expect(d[1]).toBe(Infinity);
    expect(d[2]).toBe(Infinity);
    expect(d[3]).toBeCloseTo(1.125, 12);
  });

  it('gives the extremes Infinity and adds nothing for an objective with zero range', () => {
    const d = crowdingDistance([p(0.5, 3), p(0.5, 1), p(0.5, 2)]);
    // Accuracy is constant: only latency counts; the middle point gets (3 - 1) / 2.
    expect(d).toEqual([Infinity, Infinity, 1]);
  });
});

describe('paretoFront', () => {
  it('keeps exactly the non-dominated points in input order', () => {
    const pts = [p(0.6, 6), p(0.5, 2), p(0.8, 5), p(0.4, 3), p(0.8, 5)];
    expect(paretoFront(pts)).toEqual([p(0.5, 2), p(0.8, 5), p(0.8, 5)]);
  });
});

describe('hypervolume2d', () => {
  const ref = hypervolumeReference(10);

  it('matches a hand computation: union of rectangles to (accuracy 0, latency 10)', () => {
    // [0,0.5]×[2,10] = 4, [0,0.8]×[5,10] = 4, overlap [0,0.5]×[5,10] = 2.5 → 5.5.
    expect(hypervolume2d([p(0.5, 2), p(0.8, 5)], ref)).toBeCloseTo(5.5, 12);
    // A dominated point adds nothing; points on or beyond the reference add nothing.
    expect(hypervolume2d([p(0.8, 5), p(0.6, 6), p(0.5, 2), p(0.95, 10), p(0, 1)], ref)).toBeCloseTo(5.5, 12);
    // (0.9, 9) adds [0.8,0.9]×[9,10] = 0.1.
    expect(hypervolume2d([p(0.5, 2), p(0.8, 5), p(0.9, 9)], ref)).toBeCloseTo(5.6, 12);
    expect(normalizedHypervolume([p(0.5, 2), p(0.8, 5), p(0.9, 9)], 10)).toBeCloseTo(0.56, 12);
    expect(hypervolume2d([], ref)).toBe(0);
  });

  it('agrees with a grid count of the dominated region on random fronts', () => {
    let s = 7;
    const rand = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
    for (let trial = 0; trial < 5; trial++) {
      const pts = Array.from({ length: 12 }, () => p(rand(), rand() * 12));
      const grid = 400;
      let covered = 0;
      for (let i = 0; i < grid; i++) {
        for (let j = 0; j < grid; j++) {
          const a = (i + 0.5) / grid;
          const l = ((j + 0.5) / grid) * 10;
          if (pts.some((q) => q.accuracy >= a && q.latencyMs <= l)) covered++;
        }
      }
      const gridArea = (covered / (grid * grid)) * 10;
      expect(Math.abs(hypervolume2d(pts, ref) - gridArea)).toBeLessThan(0.05);
    }
  });

  it('rejects a non-positive budget when normalising', () => {
    expect(() => normalizedHypervolume([], 0)).toThrow(/budget/);
  });
});

describe('selectSurvivors (elitist (μ+λ) survival)', () => {
  const c = (id: string, accuracy: number, latencyMs: number): Candidate => ({
    id,
    architecture: { blocks: [] },
    accuracy,
    latencyMs,
  });

  it('fills by fronts, then truncates the last front by crowding distance', () => {
    // Front 0: a b c d e (a chain along the trade-off); front 1: f g. μ = 4 → the two extremes a, e and the
    // two interior points with the largest crowding distance.
    // Interior distances (acc range 0.4, lat range 8): b: (0.65 - 0.5)/0.4 + (5 - 2)/8 = 0.75;
    // c: (0.8 - 0.6)/0.4 + (7 - 4)/8 = 0.875; d: (0.9 - 0.65)/0.4 + (10 - 5)/8 = 1.25 → keep c and d.
    const pop = [
      c('f', 0.5, 9),
      c('c', 0.65, 5),
      c('a', 0.5, 2),
      c('b', 0.6, 4),
      c('d', 0.8, 7),
      c('e', 0.9, 10),
      c('g', 0.4, 11),
    ];
    const ids = selectSurvivors(pop, 4, 100).map((x) => x.id);
    expect(ids.sort()).toEqual(['a', 'c', 'd', 'e']);
    expect(
      selectSurvivors(pop, 6, 100)
        .map((x) => x.id)
        .sort(),
    ).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });

  it('keeps feasible candidates before any over-budget one', () => {
    const pop = [c('slow-good', 0.99, 12), c('fast-bad', 0.1, 1), c('ok', 0.5, 5)];
    expect(
      selectSurvivors(pop, 2, 10)
        .map((x) => x.id)
        .sort(),
    ).toEqual(['fast-bad', 'ok']);
  });
});

describe('binary tournament (crowded comparison)', () => {
  const c = (id: string, accuracy: number, latencyMs: number): Candidate => ({
    id,
    architecture: { blocks: [] },
    accuracy,
    latencyMs,
  });

  it('prefers the lower rank, then the larger crowding distance', () => {
    // Front 0: a, b, c, e (ranges: accuracy 0.4, latency 8); x is dominated by a. Interior crowding:
    // b = (0.6 - 0.5)/0.4 + (4 - 2)/8 = 0.5; c = (0.9 - 0.55)/0.4 + (10 - 3)/8 = 1.75.
    const members = [c('a', 0.5, 2), c('b', 0.55, 3), c('c', 0.6, 4), c('e', 0.9, 10), c('x', 0.4, 9)];
    const { rank, crowding } = rankAndCrowding(members, 100);
    expect(rank).toEqual([0, 0, 0, 0, 1]);
    expect(crowding[1]).toBeCloseTo(0.5, 12);
    expect(crowding[2]).toBeCloseTo(1.75, 12);
    expect(crowding[0]).toBe(Infinity);
    expect(crowdedBetter(2, 1, rank, crowding)).toBe(true); // same rank, less crowded wins
    expect(crowdedBetter(1, 2, rank, crowding)).toBe(false);
    expect(crowdedBetter(1, 4, rank, crowding)).toBe(true); // lower rank wins despite crowding
    expect(crowdedBetter(4, 0, rank, crowding)).toBe(false);
    expect(crowdedBetter(0, 3, rank, crowding)).toBe(true); // tie (both Infinity) goes to the first
  });
});
