import {
  Architecture,
  BLOCK_TYPES,
  BlockType,
  MacroConfig,
  Rng,
  createRng,
  isBlockType,
  MutationOptions,
  SampleOptions,
  layerCount,
} from '@edgenas/search-space';
import { SearchStrategy } from '@edgenas/contracts';

/** A proposal priced by the latency predictor, before (or instead of) training. */
export interface PricedCandidate {
  readonly id: string;
  readonly architecture: Architecture;
  readonly latencyMs: number;
}

/**
 * What the caller reports back for a proposal: its latency and, when it was trained, its proxy accuracy.
 * `accuracy: null` = not trained (over the budget, never trained by design).
 */
export interface Evaluation extends PricedCandidate {
  readonly accuracy: number | null;
}

/** A trained candidate: a point in the search's objective space. */
export interface Candidate extends PricedCandidate {
  readonly accuracy: number;
}

export interface SearchOptions {
  readonly strategy: SearchStrategy;
  /** Geometry the proposals must be valid for (proxy or deployment: same stage layout). */
  readonly config: MacroConfig;
  readonly seed: number;
  readonly latencyBudgetMs: number;
  /** NSGA-II: parents kept by (μ+λ) survival; aging evolution: the queue length. */
  readonly populationSize: number;
  /** Aging evolution: members sampled per tournament (Real et al.'s S). Default ⌈P/4⌉, at least 2. */
  readonly tournamentSize?: number;
  /** NSGA-II: probability that a child is a crossover of two parents before mutation. Default 0.9. */
  readonly crossoverProbability?: number;
  /** Probability that mutation redraws a layer. Default 1 / layer count (at least one layer always changes). */
  readonly mutationRate?: number;
  /** Blocks the search may use (default: all). */
  readonly blockTypes?: readonly BlockType[];
  /** Proposals must also be valid on these configs (e.g. the proxy training geometry). */
  readonly alsoValidFor?: readonly MacroConfig[];
  /** Tries per proposal to find an architecture never proposed before. Default 100. */
  readonly maxAttemptsPerProposal?: number;
}

export type ResolvedSearchOptions = Required<SearchOptions>;

/**
 * The whole search state: plain JSON (it crosses Temporal's continue-as-new). Randomness is derived from
 * `seed` and `step`, so the same state always proposes the same architectures.
 */
export interface SearchState {
  readonly options: ResolvedSearchOptions;
  /** Number of propose calls so far (the random stream of each call is derived from it). */
  readonly step: number;
  /** Ids of every architecture ever proposed or reported: nothing is proposed twice. */
  readonly seenIds: readonly string[];
  /** Every trained candidate, in the order reported (the source of the front and the hypervolume). */
  readonly archive: readonly Candidate[];
  /** Ids (into `archive`) of the strategy's population: NSGA-II parents, or the aging queue oldest first. */
  readonly population: readonly string[];
  /** Ids of proposals reported over budget (never trained). */
  readonly rejectedIds: readonly string[];
}

export function resolveOptions(options: SearchOptions): ResolvedSearchOptions {
  const { populationSize, latencyBudgetMs, seed } = options;
  if (!Number.isInteger(populationSize) || populationSize < 2) {
    throw new Error(`populationSize must be an integer ≥ 2, got ${populationSize}`);
  }
  if (!(latencyBudgetMs > 0)) throw new Error(`latencyBudgetMs must be > 0, got ${latencyBudgetMs}`);
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  const tournamentSize = options.tournamentSize ?? Math.max(2, Math.ceil(populationSize / 4));
  if (!Number.isInteger(tournamentSize) || tournamentSize < 1 || tournamentSize > populationSize) {
    throw new Error(`tournamentSize must be an integer in [1, populationSize], got ${tournamentSize}`);
  }
  const crossoverProbability = options.crossoverProbability ?? 0.9;
  if (!(crossoverProbability >= 0 && crossoverProbability <= 1)) {
    throw new Error(`crossoverProbability must be in [0, 1], got ${crossoverProbability}`);
  }
  const maxAttemptsPerProposal = options.maxAttemptsPerProposal ?? 100;
  if (!Number.isInteger(maxAttemptsPerProposal) || maxAttemptsPerProposal < 1) {
    throw new Error(`maxAttemptsPerProposal must be an integer ≥ 1, got ${maxAttemptsPerProposal}`);
  }
  const mutationRate = options.mutationRate ?? 1 / layerCount(options.config);
  if (!(mutationRate >= 0 && mutationRate <= 1)) {
    throw new Error(`mutationRate must be in [0, 1], got ${mutationRate}`);
  }
  const blockTypes = options.blockTypes ?? BLOCK_TYPES;
  const unknown = blockTypes.filter((b) => !isBlockType(b));
  if (blockTypes.length === 0 || unknown.length > 0) {
    throw new Error(
      `blockTypes must list known blocks, got ${unknown.length > 0 ? unknown.join(', ') : 'none'}`,
    );
  }
  return {
    ...options,
    tournamentSize,
    crossoverProbability,
    mutationRate,
    blockTypes: [...blockTypes],
    alsoValidFor: [...(options.alsoValidFor ?? [])],
    maxAttemptsPerProposal,
  };
}

export function initialState(options: SearchOptions): SearchState {
  return {
    options: resolveOptions(options),
    step: 0,
    seenIds: [],
    archive: [],
    population: [],
    rejectedIds: [],
  };
}

/** Seed of the random stream of propose call `step` (a 32-bit integer hash of seed and step). */
export function stepSeed(seed: number, step: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(step + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export function stepRng(state: SearchState): Rng {
  return createRng(stepSeed(state.options.seed, state.step));
}

/**
 * Records reported evaluations: every id becomes seen; trained ones join the archive (once: a replayed report
 * is ignored); untrained ones count as rejected. Returns the state and the candidates that were new.
 */
export function recordEvaluations(
  state: SearchState,
  evaluations: readonly Evaluation[],
): { state: SearchState; added: Candidate[] } {
  const archived = new Set(state.archive.map((c) => c.id));
  const rejected = new Set(state.rejectedIds);
  const seen = new Set(state.seenIds);
  const seenIds = [...state.seenIds];
  const rejectedIds = [...state.rejectedIds];
  const added: Candidate[] = [];
  for (const e of evaluations) {
    if (e.accuracy === null) {
      if (!archived.has(e.id) && !rejected.has(e.id)) {
        rejected.add(e.id);
        rejectedIds.push(e.id);
      }
    } else if (!archived.has(e.id)) {
      if (!Number.isFinite(e.accuracy) || !Number.isFinite(e.latencyMs)) {
        throw new Error(`evaluation ${e.id}: accuracy and latencyMs must be finite numbers`);
      }
      const candidate: Candidate = {
        id: e.id,
        architecture: e.architecture,
        accuracy: e.accuracy,
        latencyMs: e.latencyMs,
      };
      added.push(candidate);
      archived.add(e.id);
    }
    if (!seen.has(e.id)) {
      seen.add(e.id);
      seenIds.push(e.id);
    }
  }
  return {
    state: { ...state, seenIds, archive: [...state.archive, ...added], rejectedIds },
    added,
  };
}

/** The population's candidates, in population order. */
export function populationMembers(state: SearchState): Candidate[] {
  const byId = new Map(state.archive.map((c) => [c.id, c]));
  return state.population.map((id) => {
    const candidate = byId.get(id);
    if (!candidate)
      throw new Error(`search state is inconsistent: population member ${id} is not in the archive`);
    return candidate;
  });
}

export function samplingOptions(state: SearchState): SampleOptions {
  return { blockTypes: state.options.blockTypes, alsoValidFor: state.options.alsoValidFor };
}

export function mutationOptions(state: SearchState): MutationOptions {
  const { blockTypes, alsoValidFor, mutationRate } = state.options;
  return { blockTypes, alsoValidFor, rate: mutationRate };
}
