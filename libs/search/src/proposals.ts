import { Architecture, Rng, architectureId, sampleArchitecture } from '@edgenas/search-space';
import { SearchState, samplingOptions, stepRng } from './state';

/** An architecture to price (and, within the budget, to train). */
export interface Proposal {
  readonly id: string;
  readonly architecture: Architecture;
}

export interface ProposeResult<S> {
  readonly state: S;
  readonly proposals: Proposal[];
}

/**
 * Draws up to `n` architectures never seen before from `generate`, falling back to uniform sampling when the
 * generator keeps producing seen ones (a converged population). Fewer than `n` only when the space around
 * is exhausted. Advances the random stream and marks the proposals seen.
 */
export function proposeUnique(
  state: SearchState,
  n: number,
  generate: (rng: Rng) => Architecture,
): ProposeResult<SearchState> {
  if (!Number.isInteger(n) || n < 0) throw new Error(`proposal count must be an integer ≥ 0, got ${n}`);
  const { config, maxAttemptsPerProposal } = state.options;
  const rng = stepRng(state);
  const seen = new Set(state.seenIds);
  const proposals: Proposal[] = [];
  const tryDraw = (draw: () => Architecture): Proposal | undefined => {
    for (let attempt = 0; attempt < maxAttemptsPerProposal; attempt++) {
      const architecture = draw();
      const id = architectureId(architecture);
      if (!seen.has(id)) return { id, architecture };
    }
    return undefined;
  };
  while (proposals.length < n) {
    const proposal =
      tryDraw(() => generate(rng)) ?? tryDraw(() => sampleArchitecture(config, rng, samplingOptions(state)));
    if (!proposal) break;
    seen.add(proposal.id);
    proposals.push(proposal);
  }
  return {
    state: { ...state, step: state.step + 1, seenIds: [...state.seenIds, ...proposals.map((p) => p.id)] },
    proposals,
  };
}
