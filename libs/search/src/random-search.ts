import { sampleArchitecture } from '@edgenas/search-space';
import { ProposeResult, proposeUnique } from './proposals';
import { Evaluation, SearchState, recordEvaluations, samplingOptions } from './state';

/** Random search baseline: uniform samples of the space, never the same architecture twice. */
export function proposeRandom(state: SearchState, n: number): ProposeResult<SearchState> {
  return proposeUnique(state, n, (rng) =>
    sampleArchitecture(state.options.config, rng, samplingOptions(state)),
  );
}

/** Random search keeps no population: results only join the archive. */
export function tellRandom(state: SearchState, evaluations: readonly Evaluation[]): SearchState {
  return recordEvaluations(state, evaluations).state;
}
