import {
  Architecture,
  BlockType,
  FBNET_224,
  MacroConfig,
  PROXY_28,
  architectureId,
  validateArchitecture,
} from '@edgenas/search-space';
import { SearchStrategy } from '@edgenas/contracts';
import { proposeWithinBudget, splitByBudget } from './budget';
import { dominates } from './objectives';
import { front, hypervolume, initSearch, propose, summarize, tell } from './search';
import { tellAgingEvolution } from './aging-evolution';
import { Candidate, SearchOptions, SearchState } from './state';

// A synthetic, deterministic problem standing in for the latency predictor and proxy training (which have
// their own suites): latency = a per-block cost sum, accuracy = a saturating function of capacity. Bigger
// blocks cost more and score more, so there is a real trade-off to search.
const COST: Record<BlockType, number> = {
  skip: 0,
  ir_k3_e1: 1,
  ir_k3_e1_g2: 0.8,
  ir_k3_e3: 2,
  ir_k3_e6: 3.6,
  ir_k5_e1: 1.3,
  ir_k5_e1_g2: 1.1,
  ir_k5_e3: 2.6,
  ir_k5_e6: 4.6,
  shuffle_k3: 0.9,
  shuffle_k5: 1.1,
};
const CAPACITY: Record<BlockType, number> = {
  skip: 0,
  ir_k3_e1: 1,
  ir_k3_e1_g2: 0.9,
  ir_k3_e3: 2.2,
  ir_k3_e6: 3,
  ir_k5_e1: 1.4,
  ir_k5_e1_g2: 1.2,
  ir_k5_e3: 2.9,
  ir_k5_e6: 3.5,
  shuffle_k3: 1.3,
  shuffle_k5: 1.5,
};
const latencyOf = (a: Architecture) => a.blocks.reduce((s, b, i) => s + COST[b] * (i < 5 ? 2 : 1), 1);
const accuracyOf = (a: Architecture) => {
  const capacity = a.blocks.reduce((s, b, i) => s + CAPACITY[b] * (i % 3 === 0 ? 1.5 : 1), 0);
  return 1 - Math.exp(-capacity / 25);
};
// About half of uniform samples fit this budget (10th percentile 39, median 48.5, 90th 59).
const BUDGET = 48;

function options(strategy: SearchStrategy, seed: number, extra: Partial<SearchOptions> = {}): SearchOptions {
  return {
    strategy,
    config: PROXY_28,
    alsoValidFor: [FBNET_224],
    seed,
    latencyBudgetMs: BUDGET,
    populationSize: 12,
    ...extra,
  };
}

interface Run {
  state: SearchState;
  proposedIds: string[];
  trainedLatencies: number[];
  rejectedLatencies: number[];
  architectures: Architecture[];
}

async function run(
  strategy: SearchStrategy,
  seed: number,
  generations = 6,
  viaJson = false,
  extra: Partial<SearchOptions> = {},
): Promise<Run> {
  let state = initSearch(options(strategy, seed, extra));
  const r: Run = { state, proposedIds: [], trainedLatencies: [], rejectedLatencies: [], architectures: [] };
  const roundTrip = (s: SearchState): SearchState => (viaJson ? JSON.parse(JSON.stringify(s)) : s);
  for (let g = 0; g < generations; g++) {
    const round = await proposeWithinBudget(roundTrip(state), 12, (archs) => archs.map(latencyOf));
    state = roundTrip(round.state);
    for (const c of [...round.candidates, ...round.rejected]) {
      r.proposedIds.push(c.id);
      r.architectures.push(c.architecture);
    }
    r.trainedLatencies.push(...round.candidates.map((c) => c.latencyMs));
    r.rejectedLatencies.push(...round.rejected.map((c) => c.latencyMs));
    state = tell(
      state,
      round.candidates.map((c) => ({ ...c, accuracy: accuracyOf(c.architecture) })),
    );
  }
  r.state = state;
  return r;
}

const STRATEGIES: SearchStrategy[] = ['nsga2', 'evolution', 'random'];

describe.each(STRATEGIES)('%s', (strategy) => {
  it('is deterministic for a seed and differs across seeds', async () => {
    const a = await run(strategy, 11);
    const b = await run(strategy, 11);
    const c = await run(strategy, 12);
    expect(b.proposedIds).toEqual(a.proposedIds);
    expect(JSON.stringify(b.state)).toBe(JSON.stringify(a.state));
    expect(c.proposedIds).not.toEqual(a.proposedIds);
  });

  it('continues identically from a JSON copy of its state (continue-as-new)', async () => {
    const direct = await run(strategy, 5);
    const viaJson = await run(strategy, 5, 6, true);
    expect(viaJson.proposedIds).toEqual(direct.proposedIds);
    expect(viaJson.state).toEqual(direct.state);
  });

  it('never proposes an architecture twice, proposes only valid ones, and trains none over budget', async () => {
    const r = await run(strategy, 3, 8);
    expect(new Set(r.proposedIds).size).toBe(r.proposedIds.length);
    for (const a of r.architectures) {
      expect(validateArchitecture(a, PROXY_28)).toEqual([]);
      expect(validateArchitecture(a, FBNET_224)).toEqual([]);
    }
    expect(r.trainedLatencies.length).toBe(8 * 12);
    expect(Math.max(...r.trainedLatencies)).toBeLessThanOrEqual(BUDGET);
    expect(r.rejectedLatencies.every((l) => l > BUDGET)).toBe(true);
    // Every rejected proposal was priced, and pricing reported it to the state.
    // The budget binds: random sampling alone proposes over-budget architectures here.
    if (strategy === 'random') expect(r.rejectedLatencies.length).toBeGreaterThan(0);
    const s = summarize(r.state);
    expect(s.trained).toBe(8 * 12);
    expect(s.rejectedOverBudget).toBe(r.rejectedLatencies.length);
    expect(s.proposed).toBe(r.proposedIds.length);
  });

  it('fills every generation under a tight budget (about 10 % of uniform samples fit)', async () => {
    const r = await run(strategy, 7, 4, false, { latencyBudgetMs: 39 });
    expect(r.trainedLatencies.length).toBe(4 * 12);
    expect(Math.max(...r.trainedLatencies)).toBeLessThanOrEqual(39);
    expect(new Set(r.proposedIds).size).toBe(r.proposedIds.length);
    expect(r.rejectedLatencies.length).toBeGreaterThan(0);
  });

  it('reports a front of mutually non-dominated, within-budget trained candidates', async () => {
    const r = await run(strategy, 9);
    const f = front(r.state);
    expect(f.length).toBeGreaterThan(0);
    for (const p of f) {
      expect(p.latencyMs).toBeLessThanOrEqual(BUDGET);
      expect(f.some((q) => dominates(q, p))).toBe(false);
      expect(r.state.archive.some((q) => q.latencyMs <= BUDGET && dominates(q, p))).toBe(false);
    }
    expect(hypervolume(r.state)).toBeGreaterThan(0);
  });

  it('ignores a replayed report', async () => {
    let state = initSearch(options(strategy, 1));
    const round = propose(state, 12);
    state = round.state;
    const evaluations = round.proposals.map((p) => ({
      ...p,
      latencyMs: latencyOf(p.architecture),
      accuracy: latencyOf(p.architecture) <= BUDGET ? accuracyOf(p.architecture) : null,
    }));
    const once = tell(state, evaluations);
    expect(tell(once, evaluations)).toEqual(once);
  });
});

describe('search behaviour', () => {
  // Same number of trained candidates, 3 seeds each. NSGA-II optimises the front (hypervolume); aging
  // evolution optimises accuracy within the budget, its single objective.
  const mean = async (strategy: SearchStrategy, measure: (s: SearchState) => number) => {
    let sum = 0;
    for (const seed of [1, 2, 3]) sum += measure((await run(strategy, seed, 10)).state);
    return sum / 3;
  };
  const bestAccuracy = (s: SearchState) => Math.max(...front(s).map((c) => c.accuracy));

  it('NSGA-II reaches a larger hypervolume than random search on the synthetic trade-off', async () => {
    expect(await mean('nsga2', hypervolume)).toBeGreaterThan(await mean('random', hypervolume));
  });

  it('aging evolution finds a more accurate within-budget architecture than random search', async () => {
    expect(await mean('evolution', bestAccuracy)).toBeGreaterThan(await mean('random', bestAccuracy));
  });

  it('keeps μ NSGA-II parents, always including the extremes of the front found so far (elitism)', async () => {
    const r = await run('nsga2', 4, 5);
    expect(r.state.population.length).toBe(12);
    const f = front(r.state);
    expect(r.state.population).toContain(f[0].id);
    expect(r.state.population).toContain(f[f.length - 1].id);
  });

  it('stops proposing when a small space is exhausted', () => {
    // Layer 0 changes the shape (ir only); layers 1 and 2 take ir_k3_e1 or skip: 4 architectures in all.
    const tiny: MacroConfig = {
      name: 'tiny',
      input: { height: 8, width: 8, channels: 1 },
      stem: { channels: 4, kernel: 3, stride: 1 },
      stages: [
        { channels: 8, repeats: 1, firstStride: 2 },
        { channels: 8, repeats: 2, firstStride: 1 },
      ],
      head: { channels: 8 },
      classes: 2,
    };
    for (const strategy of STRATEGIES) {
      let state = initSearch({
        strategy,
        config: tiny,
        seed: 1,
        latencyBudgetMs: 100,
        populationSize: 2,
        blockTypes: ['ir_k3_e1', 'skip'],
        maxAttemptsPerProposal: 20,
      });
      const first = propose(state, 3);
      state = tell(
        first.state,
        first.proposals.map((p) => ({
          ...p,
          latencyMs: latencyOf(p.architecture),
          accuracy: accuracyOf(p.architecture),
        })),
      );
      const second = propose(state, 10);
      const ids = [...first.proposals, ...second.proposals].map((p) => p.id);
      expect(ids.length).toBe(4);
      expect(new Set(ids).size).toBe(4);
      expect(propose(second.state, 5).proposals).toEqual([]);
    }
  });

  it('rejects invalid options naming the option', () => {
    expect(() => initSearch(options('nsga2', 1, { populationSize: 1 }))).toThrow(/populationSize/);
    expect(() => initSearch(options('nsga2', 1, { latencyBudgetMs: 0 }))).toThrow(/latencyBudgetMs/);
    expect(() => initSearch(options('nsga2', 1, { seed: 1.5 }))).toThrow(/seed/);
    expect(() => initSearch(options('evolution', 1, { tournamentSize: 99 }))).toThrow(/tournamentSize/);
    expect(() => initSearch(options('nsga2', 1, { crossoverProbability: 2 }))).toThrow(
      /crossoverProbability/,
    );
    expect(() => initSearch(options('nsga2', 1, { strategy: 'annealing' as SearchStrategy }))).toThrow(
      /unknown search strategy "annealing"/,
    );
  });
});

describe('aging evolution queue', () => {
  it('appends in report order and drops the oldest beyond the population size', () => {
    let state = initSearch(options('evolution', 1, { populationSize: 3 }));
    const cand = (i: number): Candidate => {
      const architecture: Architecture = { blocks: PROXY_28.stages.flatMap(() => []) };
      return { id: `c${i}`, architecture, accuracy: 0.5, latencyMs: 1 };
    };
    state = tellAgingEvolution(state, [cand(1), cand(2)]);
    expect(state.population).toEqual(['c1', 'c2']);
    state = tellAgingEvolution(state, [cand(3), cand(4), cand(5)]);
    expect(state.population).toEqual(['c3', 'c4', 'c5']);
    state = tellAgingEvolution(state, [cand(6)]);
    expect(state.population).toEqual(['c4', 'c5', 'c6']);
    expect(state.archive.map((c) => c.id)).toEqual(['c1', 'c2', 'c3', 'c4', 'c5', 'c6']);
  });
});

describe('splitByBudget', () => {
  it('treats exactly-on-budget as feasible', () => {
    const a: Architecture = { blocks: [] };
    const { within, over } = splitByBudget(
      [
        { id: architectureId(a), architecture: a, latencyMs: 10 },
        { id: 'x', architecture: a, latencyMs: 10.0001 },
      ],
      10,
    );
    expect(within.map((c) => c.latencyMs)).toEqual([10]);
    expect(over.map((c) => c.id)).toEqual(['x']);
  });
});
