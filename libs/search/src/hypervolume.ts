import { Objectives } from './objectives';
import { paretoFront } from './pareto';

/**
 * The reference point of a latency-constrained search: accuracy 0 and latency = the budget. Only feasible
 * points with accuracy above 0 add area.
 */
export function hypervolumeReference(latencyBudgetMs: number): Objectives {
  return { accuracy: 0, latencyMs: latencyBudgetMs };
}

/**
 * Area (accuracy × ms) dominated by `points` in (accuracy ↑, latency ↓) and bounded by `reference`: the union
 * of the rectangles [reference.accuracy, p.accuracy] × [p.latencyMs, reference.latencyMs]. Points not strictly
 * better than the reference in both objectives add nothing.
 */
export function hypervolume2d(points: readonly Objectives[], reference: Objectives): number {
  const inside = points.filter((p) => p.accuracy > reference.accuracy && p.latencyMs < reference.latencyMs);
  // Along a front sorted by latency ascending, accuracy ascends too: sweep accuracy levels.
  const front = paretoFront(inside).sort((a, b) => a.latencyMs - b.latencyMs || a.accuracy - b.accuracy);
  let area = 0;
  let accuracyBelow = reference.accuracy;
  for (const p of front) {
    if (p.accuracy <= accuracyBelow) continue;
    area += (p.accuracy - accuracyBelow) * (reference.latencyMs - p.latencyMs);
    accuracyBelow = p.accuracy;
  }
  return area;
}

/**
 * Hypervolume against `hypervolumeReference(budget)`, divided by the budget: the dominated share of the box
 * accuracy [0, 1] × latency [0, budget], so values compare across budgets.
 */
export function normalizedHypervolume(points: readonly Objectives[], latencyBudgetMs: number): number {
  if (!(latencyBudgetMs > 0)) throw new Error(`latency budget must be > 0 ms, got ${latencyBudgetMs}`);
  return hypervolume2d(points, hypervolumeReference(latencyBudgetMs)) / latencyBudgetMs;
}
