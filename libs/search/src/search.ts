import { SearchStrategy } from '@edgenas/contracts';
import { proposeAgingEvolution, tellAgingEvolution } from './aging-evolution';
import { normalizedHypervolume } from './hypervolume';
import { proposeNsga2, tellNsga2 } from './nsga2';
import { paretoFront } from './pareto';
import { ProposeResult } from './proposals';
import { proposeRandom, tellRandom } from './random-search';
import { Candidate, Evaluation, SearchOptions, SearchState, initialState } from './state';

/**
 * A search strategy as step functions over plain state, so Temporal workflow code can drive it between
 * activities: propose → (price, drop over budget, train) → tell → … ; `front` at any time.
 */
export interface SearchStrategySteps {
  readonly propose: (state: SearchState, n: number) => ProposeResult<SearchState>;
  readonly tell: (state: SearchState, evaluations: readonly Evaluation[]) => SearchState;
}

export const SEARCH_STRATEGIES: Readonly<Record<SearchStrategy, SearchStrategySteps>> = {
  nsga2: { propose: proposeNsga2, tell: tellNsga2 },
  evolution: { propose: proposeAgingEvolution, tell: tellAgingEvolution },
  random: { propose: proposeRandom, tell: tellRandom },
};

function stepsOf(state: SearchState): SearchStrategySteps {
  const steps = SEARCH_STRATEGIES[state.options.strategy];
  if (!steps) {
    throw new Error(
      `unknown search strategy "${state.options.strategy}" (known: ${Object.keys(SEARCH_STRATEGIES).join(', ')})`,
    );
  }
  return steps;
}

/** A fresh search; throws on invalid options (naming the option). */
export function initSearch(options: SearchOptions): SearchState {
  const state = initialState(options);
  stepsOf(state);
  return state;
}

/** Up to `n` architectures never proposed before (fewer only when the space is exhausted). */
export function propose(state: SearchState, n: number): ProposeResult<SearchState> {
  return stepsOf(state).propose(state, n);
}

/**
 * Reports evaluated proposals: trained ones (`accuracy` set) and ones rejected over budget (`accuracy: null`).
 * Idempotent per id: a replayed report changes nothing.
 */
export function tell(state: SearchState, evaluations: readonly Evaluation[]): SearchState {
  return stepsOf(state).tell(state, evaluations);
}

/** The Pareto front of every trained candidate within the budget, fastest first. */
export function front(state: SearchState): Candidate[] {
  const feasible = state.archive.filter((c) => c.latencyMs <= state.options.latencyBudgetMs);
  return paretoFront(feasible).sort((a, b) => a.latencyMs - b.latencyMs || b.accuracy - a.accuracy);
}

/** Normalised hypervolume of the front (reference: accuracy 0, latency = budget; see `normalizedHypervolume`). */
export function hypervolume(state: SearchState): number {
  return normalizedHypervolume(front(state), state.options.latencyBudgetMs);
}

export interface SearchSummary {
  readonly proposed: number;
  readonly trained: number;
  readonly rejectedOverBudget: number;
  readonly populationSize: number;
  readonly frontSize: number;
  readonly hypervolume: number;
}

export function summarize(state: SearchState): SearchSummary {
  return {
    proposed: state.seenIds.length,
    trained: state.archive.length,
    rejectedOverBudget: state.rejectedIds.length,
    populationSize: state.population.length,
    frontSize: front(state).length,
    hypervolume: hypervolume(state),
  };
}
