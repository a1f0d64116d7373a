/**
 * The two search objectives: proxy accuracy (maximised) and predicted latency (minimised), with the latency
 * budget as a hard constraint.
 */
export interface Objectives {
  /** Proxy validation top-1 accuracy in [0, 1]. */
  readonly accuracy: number;
  /** Predicted (worst over the job's devices) latency, ms. */
  readonly latencyMs: number;
}

/** `a` Pareto-dominates `b`: no worse in both objectives and strictly better in at least one. */
export function dominates(a: Objectives, b: Objectives): boolean {
  const noWorse = a.accuracy >= b.accuracy && a.latencyMs <= b.latencyMs;
  const better = a.accuracy > b.accuracy || a.latencyMs < b.latencyMs;
  return noWorse && better;
}

/** How far a point is over the latency budget (0 when feasible). */
export function budgetViolation(point: Objectives, latencyBudgetMs: number): number {
  return Math.max(0, point.latencyMs - latencyBudgetMs);
}

/**
 * Deb's constraint domination: a feasible point beats an infeasible one; of two infeasible points the one
 * closer to the budget wins; two feasible points compare by Pareto dominance. Without a budget it is plain
 * dominance.
 */
export function constrainedDominates(a: Objectives, b: Objectives, latencyBudgetMs?: number): boolean {
  if (latencyBudgetMs === undefined) return dominates(a, b);
  const va = budgetViolation(a, latencyBudgetMs);
  const vb = budgetViolation(b, latencyBudgetMs);
  if (va === 0 && vb === 0) return dominates(a, b);
  return va < vb;
}
