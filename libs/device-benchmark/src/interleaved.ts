import { performance } from 'node:perf_hooks';
import { RoundsSummary, repeatsForItem, summarizeRounds } from './statistics';

/** Something that can be run and timed: an ONNX Runtime session with its input bound. */
export interface Runnable {
  run(): Promise<void>;
}

/**
 * What a timed run is measured in. `wall`: elapsed time, the latency a user sees on a dedicated device.
 * `cpu`: CPU time of this process (all threads) during the run; with one ONNX Runtime thread on a shared
 * machine it is what the run would take on a core of its own, unaffected by time spent descheduled.
 */
export type BenchmarkClock = 'wall' | 'cpu';

export interface InterleavedOptions {
  readonly clock: BenchmarkClock;
  /** Untimed runs per item before the first round. */
  readonly warmupRuns: number;
  readonly rounds: number;
  /** Timed runs per item per round (at least). */
  readonly minRepeats: number;
  /** Fast items get more runs so that a round lasts about `minRoundMs`, up to `maxRepeats`. */
  readonly maxRepeats: number;
  readonly minRoundMs: number;
}

export const DEFAULT_INTERLEAVED_OPTIONS: InterleavedOptions = {
  clock: 'wall',
  warmupRuns: 3,
  rounds: 7,
  minRepeats: 5,
  maxRepeats: 200,
  minRoundMs: 20,
};

export interface InterleavedResult extends RoundsSummary {
  readonly warmupRuns: number;
}

/**
 * Warm up every item, then run `rounds` rounds; each round visits every item in order (A B C … A B C …) and
 * times `repeats` consecutive runs of it. Interleaving spreads slow phases of a shared machine over all items
 * instead of letting them hit one item's whole measurement.
 */
export async function measureInterleaved(
  items: readonly Runnable[],
  opts: InterleavedOptions,
  onRound?: (round: number) => void,
): Promise<InterleavedResult[]> {
  if (opts.rounds < 1) throw new Error(`rounds must be ≥ 1, got ${opts.rounds}`);
  if (opts.minRepeats < 1) throw new Error(`repeats must be ≥ 1, got ${opts.minRepeats}`);
  const repeats: number[] = [];
  for (const item of items) {
    const warm: number[] = [];
    for (let i = 0; i < Math.max(1, opts.warmupRuns); i++) warm.push(await timeRun(item, opts.clock));
    // The fastest warm run (the first one pays for allocation) tells how long a run takes.
    repeats.push(repeatsForItem(Math.min(...(warm.length > 1 ? warm.slice(1) : warm)), opts));
  }
  const samples: number[][][] = items.map(() => []);
  for (let r = 0; r < opts.rounds; r++) {
    for (let i = 0; i < items.length; i++) {
      const round: number[] = [];
      for (let k = 0; k < repeats[i]; k++) round.push(await timeRun(items[i], opts.clock));
      samples[i].push(round);
    }
    onRound?.(r + 1);
  }
  return samples.map((rounds) => ({ ...summarizeRounds(rounds), warmupRuns: Math.max(1, opts.warmupRuns) }));
}

async function timeRun(item: Runnable, clock: BenchmarkClock): Promise<number> {
  if (clock === 'cpu') {
    const start = process.cpuUsage();
    await item.run();
    const used = process.cpuUsage(start);
    return (used.user + used.system) / 1000;
  }
  const start = performance.now();
  await item.run();
  return performance.now() - start;
}
