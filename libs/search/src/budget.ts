import { Architecture } from '@edgenas/search-space';
import { Proposal } from './proposals';
import { propose, tell } from './search';
import { PricedCandidate, SearchState } from './state';

/** Splits priced proposals at the latency budget (inclusive: exactly on budget is feasible). */
export function splitByBudget<T extends PricedCandidate>(
  candidates: readonly T[],
  latencyBudgetMs: number,
): { within: T[]; over: T[] } {
  const within: T[] = [];
  const over: T[] = [];
  for (const c of candidates) (c.latencyMs <= latencyBudgetMs ? within : over).push(c);
  return { within, over };
}

/** Pairs proposals with predicted latencies (same order), checking the predictor answered for each. */
export function priceProposals(
  proposals: readonly Proposal[],
  latenciesMs: readonly number[],
): PricedCandidate[] {
  if (latenciesMs.length !== proposals.length) {
    throw new Error(`expected ${proposals.length} predicted latencies, got ${latenciesMs.length}`);
  }
  return proposals.map((p, i) => {
    const latencyMs = latenciesMs[i];
    if (!Number.isFinite(latencyMs) || latencyMs < 0) {
      throw new Error(`predicted latency of ${p.id} must be a finite number ≥ 0, got ${latencyMs}`);
    }
    return { ...p, latencyMs };
  });
}

export interface ProposeWithinBudgetResult {
  readonly state: SearchState;
  /** Up to `n` new candidates predicted within the budget: the ones to train. */
  readonly candidates: PricedCandidate[];
  /** Proposals predicted over the budget (already reported to the state as never trained). */
  readonly rejected: PricedCandidate[];
}

export interface ProposeWithinBudgetOptions {
  /** Propose/price rounds before giving up on filling `n` (default 10). */
  readonly maxRounds?: number;
  /** Most proposals priced in one round (default 8·n, at least 64). */
  readonly maxPerRound?: number;
}

/**
 * Proposes until `n` candidates are predicted within the budget (or `maxRounds` rounds pass, or the space runs
 * out): propose → price → report the over-budget ones → repeat for the shortfall. When the budget is tight,
 * a round proposes more than the shortfall (scaled by the share within budget so far); within-budget surplus
 * is handed back (not marked seen), so it may be proposed again later. `predictLatency` is the caller's
 * predictor (in a workflow: an activity), called once per round with that round's proposals.
 */
export async function proposeWithinBudget(
  state: SearchState,
  n: number,
  predictLatency: (architectures: Architecture[]) => Promise<readonly number[]> | readonly number[],
  options: ProposeWithinBudgetOptions = {},
): Promise<ProposeWithinBudgetResult> {
  const maxRounds = options.maxRounds ?? 10;
  const maxPerRound = options.maxPerRound ?? Math.max(64, 8 * n);
  const candidates: PricedCandidate[] = [];
  const rejected: PricedCandidate[] = [];
  let current = state;
  for (let round = 0; round < maxRounds && candidates.length < n; round++) {
    const shortfall = n - candidates.length;
    const share = withinBudgetShare(current);
    const count = Math.min(maxPerRound, Math.max(shortfall, Math.ceil(shortfall / Math.max(share, 0.02))));
    const proposed = propose(current, count);
    current = proposed.state;
    if (proposed.proposals.length === 0) break;
    const latencies = await predictLatency(proposed.proposals.map((p) => p.architecture));
    const priced = priceProposals(proposed.proposals, latencies);
    const { within, over } = splitByBudget(priced, current.options.latencyBudgetMs);
    const surplus = new Set(within.slice(shortfall).map((c) => c.id));
    candidates.push(...within.slice(0, shortfall));
    rejected.push(...over);
    if (surplus.size > 0) current = { ...current, seenIds: current.seenIds.filter((id) => !surplus.has(id)) };
    current = tell(
      current,
      over.map((c) => ({ ...c, accuracy: null })),
    );
  }
  return { state: current, candidates, rejected };
}

/** Share of priced proposals so far that were within the budget (1 before any). */
function withinBudgetShare(state: SearchState): number {
  const rejected = state.rejectedIds.length;
  const priced = state.seenIds.length;
  return priced === 0 ? 1 : Math.max(0, priced - rejected) / priced;
}
