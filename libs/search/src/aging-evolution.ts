import { Rng, mutateArchitecture } from '@edgenas/search-space';
import { budgetViolation } from './objectives';
import { ProposeResult, proposeUnique } from './proposals';
import { proposeRandom } from './random-search';
import {
  Candidate,
  Evaluation,
  SearchState,
  mutationOptions,
  populationMembers,
  recordEvaluations,
} from './state';

/**
 * Aging (regularized) evolution (Real et al., 2019): until the queue holds `populationSize` members,
 * uniform samples; then each child is a mutation of the best of `tournamentSize` members drawn without
 * replacement. Best = within the budget first, then highest accuracy, then lowest latency.
 */
export function proposeAgingEvolution(state: SearchState, n: number): ProposeResult<SearchState> {
  const members = populationMembers(state);
  const { config, populationSize, tournamentSize, latencyBudgetMs } = state.options;
  if (members.length < populationSize) return proposeRandom(state, n);
  return proposeUnique(state, n, (rng) => {
    const sample = sampleWithoutReplacement(members, tournamentSize, rng);
    const parent = sample.reduce((best, c) => (fitter(c, best, latencyBudgetMs) ? c : best));
    return mutateArchitecture(parent.architecture, config, rng, mutationOptions(state));
  });
}

/** Appends trained candidates to the queue (reporting order) and drops the oldest beyond `populationSize`. */
export function tellAgingEvolution(state: SearchState, evaluations: readonly Evaluation[]): SearchState {
  const recorded = recordEvaluations(state, evaluations);
  const queue = [...state.population, ...recorded.added.map((c) => c.id)];
  return {
    ...recorded.state,
    population: queue.slice(Math.max(0, queue.length - state.options.populationSize)),
  };
}

function fitter(a: Candidate, b: Candidate, latencyBudgetMs: number): boolean {
  const va = budgetViolation(a, latencyBudgetMs);
  const vb = budgetViolation(b, latencyBudgetMs);
  if (va !== vb) return va < vb;
  if (a.accuracy !== b.accuracy) return a.accuracy > b.accuracy;
  return a.latencyMs < b.latencyMs;
}

function sampleWithoutReplacement<T>(items: readonly T[], k: number, rng: Rng): T[] {
  const pool = [...items];
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(pool.length - i);
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, k);
}
