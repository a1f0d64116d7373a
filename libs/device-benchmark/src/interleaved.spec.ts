import { measureInterleaved, Runnable } from './interleaved';

/** Busy-waits: a real CPU-bound run of a known length, so timing and order can be checked. */
function busyItem(name: string, ms: number, log: string[]): Runnable {
  return {
    async run() {
      log.push(name);
      const end = performance.now() + ms;
      while (performance.now() < end) {
        /* spin */
      }
    },
  };
}

describe('measureInterleaved', () => {
  it('warms up, then visits items round by round (A B C … A B C …)', async () => {
    const log: string[] = [];
    const items = ['A', 'B', 'C'].map((n) => busyItem(n, 2, log));
    const opts = {
      clock: 'wall' as const,
      warmupRuns: 2,
      rounds: 3,
      minRepeats: 2,
      maxRepeats: 2,
      minRoundMs: 0,
    };
    const rounds: number[] = [];
    const results = await measureInterleaved(items, opts, (r) => rounds.push(r));
    const warm = 'AABBCC';
    const round = 'AABBCC';
    expect(log.join('')).toBe(warm + round.repeat(3));
    expect(rounds).toEqual([1, 2, 3]);
    expect(results.map((r) => [r.rounds, r.repeatsPerRound, r.warmupRuns])).toEqual([
      [3, 2, 2],
      [3, 2, 2],
      [3, 2, 2],
    ]);
  });

  it('measures what the items cost and keeps their order', async () => {
    const log: string[] = [];
    const items = [busyItem('slow', 6, log), busyItem('fast', 1, log)];
    const results = await measureInterleaved(items, {
      clock: 'wall',
      warmupRuns: 3,
      rounds: 3,
      minRepeats: 3,
      maxRepeats: 30,
      minRoundMs: 12,
    });
    expect(results[0].estimateMs).toBeGreaterThanOrEqual(6);
    expect(results[1].estimateMs).toBeGreaterThanOrEqual(1);
    expect(results[1].estimateMs).toBeLessThan(results[0].estimateMs);
    // The fast item gets more runs per round so its round lasts about minRoundMs.
    expect(results[0].repeatsPerRound).toBe(3);
    expect(results[1].repeatsPerRound).toBeGreaterThan(3);
  });

  it('on the cpu clock, counts CPU time: a run that waits costs (almost) nothing, a computing one its work', async () => {
    const waiting: Runnable = { run: () => new Promise((resolve) => setTimeout(resolve, 5)) };
    let sink = 0;
    // A fixed amount of work (not a fixed wall time: on a loaded machine part of that would be spent waiting).
    const computing: Runnable = {
      async run() {
        for (let i = 0; i < 3_000_000; i++) sink += Math.sqrt(i);
      },
    };
    const opts = { warmupRuns: 1, rounds: 3, minRepeats: 3, maxRepeats: 3, minRoundMs: 0 };
    const [wallWait] = await measureInterleaved([waiting], { ...opts, clock: 'wall' });
    const [cpuWait, cpuBusy] = await measureInterleaved([waiting, computing], { ...opts, clock: 'cpu' });
    expect(sink).toBeGreaterThan(0);
    expect(wallWait.estimateMs).toBeGreaterThanOrEqual(4.5);
    expect(cpuWait.estimateMs).toBeLessThan(1);
    expect(cpuBusy.estimateMs).toBeGreaterThan(0.5);
    expect(cpuBusy.estimateMs).toBeGreaterThan(10 * cpuWait.estimateMs);
  });
});
