import { Objectives, constrainedDominates, dominates } from './objectives';

/**
 * Fast non-dominated sort (Deb et al., 2002): the indices of `points` grouped into fronts, best first. Each
 * front keeps the input order. With a latency budget, constraint domination is used (feasible points first,
 * then infeasible ones by their violation).
 */
export function nonDominatedSort(points: readonly Objectives[], latencyBudgetMs?: number): number[][] {
  const n = points.length;
  const dominatedBy: number[][] = Array.from({ length: n }, () => []);
  const dominationCount = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (constrainedDominates(points[i], points[j], latencyBudgetMs)) {
        dominatedBy[i].push(j);
        dominationCount[j]++;
      } else if (constrainedDominates(points[j], points[i], latencyBudgetMs)) {
        dominatedBy[j].push(i);
        dominationCount[i]++;
      }
    }
  }
  const fronts: number[][] = [];
  let current = [...Array(n).keys()].filter((i) => dominationCount[i] === 0);
  while (current.length > 0) {
    fronts.push(current);
    const next: number[] = [];
    for (const i of current) {
      for (const j of dominatedBy[i]) {
        if (--dominationCount[j] === 0) next.push(j);
      }
    }
    current = next.sort((a, b) => a - b);
  }
  return fronts;
}

/** Front index (0 = best) of every point. */
export function paretoRanks(points: readonly Objectives[], latencyBudgetMs?: number): number[] {
  const ranks = new Array<number>(points.length).fill(0);
  nonDominatedSort(points, latencyBudgetMs).forEach((front, rank) => {
    for (const i of front) ranks[i] = rank;
  });
  return ranks;
}

/**
 * Crowding distance of each point within one front (Deb et al., 2002): per objective, the two extreme points
 * get Infinity and every other point the gap between its neighbours normalised by the objective's range;
 * summed over objectives. An objective with zero range adds nothing (not even the Infinity of extremes).
 */
export function crowdingDistance(front: readonly Objectives[]): number[] {
  const n = front.length;
  const distance = new Array<number>(n).fill(0);
  if (n === 0) return distance;
  const objectives: ((p: Objectives) => number)[] = [(p) => p.accuracy, (p) => p.latencyMs];
  for (const value of objectives) {
    const order = [...Array(n).keys()].sort((a, b) => value(front[a]) - value(front[b]) || a - b);
    const range = value(front[order[n - 1]]) - value(front[order[0]]);
    // All equal: no point is an extreme of this objective.
    if (range === 0) continue;
    distance[order[0]] = Infinity;
    distance[order[n - 1]] = Infinity;
    for (let k = 1; k < n - 1; k++) {
      distance[order[k]] += (value(front[order[k + 1]]) - value(front[order[k - 1]])) / range;
    }
  }
  return distance;
}

/** The non-dominated subset of `points` (plain dominance), in input order. */
export function paretoFront<T extends Objectives>(points: readonly T[]): T[] {
  return points.filter((p, i) => !points.some((q, j) => j !== i && dominates(q, p)));
}
