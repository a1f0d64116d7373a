import { Rng, crossoverArchitectures, mutateArchitecture } from '@edgenas/search-space';
import { crowdingDistance, nonDominatedSort } from './pareto';
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
 * NSGA-II (Deb et al., 2002) over architectures: binary tournaments by (front rank, crowding distance),
 * crossover and mutation from the search space, elitist (μ+λ) survival under constraint domination with the
 * latency budget. Until two parents exist, proposals are uniform samples (the initial population).
 */
export function proposeNsga2(state: SearchState, n: number): ProposeResult<SearchState> {
  const members = populationMembers(state);
  if (members.length < 2) return proposeRandom(state, n);
  const { config, crossoverProbability, latencyBudgetMs } = state.options;
  const { rank, crowding } = rankAndCrowding(members, latencyBudgetMs);
  const tournament = (rng: Rng): Candidate => {
    const i = rng.int(members.length);
    let j = rng.int(members.length - 1);
    if (j >= i) j++;
    return crowdedBetter(i, j, rank, crowding) ? members[i] : members[j];
  };
  return proposeUnique(state, n, (rng) => {
    const first = tournament(rng);
    let child = first.architecture;
    if (rng.next() < crossoverProbability) {
      child = crossoverArchitectures(child, tournament(rng).architecture, config, rng);
    }
    return mutateArchitecture(child, config, rng, mutationOptions(state));
  });
}

/** Adds trained candidates and keeps the best `populationSize` of parents ∪ offspring. */
export function tellNsga2(state: SearchState, evaluations: readonly Evaluation[]): SearchState {
  const recorded = recordEvaluations(state, evaluations);
  if (recorded.added.length === 0) return recorded.state;
  const { populationSize, latencyBudgetMs } = state.options;
  const survivors = selectSurvivors(
    [...populationMembers(state), ...recorded.added],
    populationSize,
    latencyBudgetMs,
  );
  return { ...recorded.state, population: survivors.map((c) => c.id) };
}

/** Front rank (constraint domination) and crowding distance within its front, per member. */
export function rankAndCrowding(
  members: readonly Candidate[],
  latencyBudgetMs: number,
): { rank: number[]; crowding: number[] } {
  const rank = new Array<number>(members.length).fill(0);
  const crowding = new Array<number>(members.length).fill(0);
  nonDominatedSort(members, latencyBudgetMs).forEach((front, r) => {
    const distance = crowdingDistance(front.map((i) => members[i]));
    front.forEach((i, k) => {
      rank[i] = r;
      crowding[i] = distance[k];
    });
  });
  return { rank, crowding };
}

/** The crowded-comparison operator: lower rank wins, then larger crowding distance; ties go to `i`. */
export function crowdedBetter(
  i: number,
  j: number,
  rank: readonly number[],
  crowding: readonly number[],
): boolean {
  if (rank[i] !== rank[j]) return rank[i] < rank[j];
  return crowding[i] >= crowding[j];
}

/**
 * Elitist survival: whole fronts in rank order while they fit, then the most spread-out members (largest
 * crowding distance; input order breaks ties) of the first front that does not.
 */
export function selectSurvivors(
  candidates: readonly Candidate[],
  size: number,
  latencyBudgetMs: number,
): Candidate[] {
  const survivors: Candidate[] = [];
  for (const front of nonDominatedSort(candidates, latencyBudgetMs)) {
    const room = size - survivors.length;
    if (room <= 0) break;
    if (front.length <= room) {
      survivors.push(...front.map((i) => candidates[i]));
      continue;
    }
    const members = front.map((i) => candidates[i]);
    const distance = crowdingDistance(members);
    const order = [...members.keys()].sort((a, b) => distance[b] - distance[a] || a - b);
    survivors.push(...order.slice(0, room).map((k) => members[k]));
  }
  return survivors;
}
