/**
 * Latency of a float model against its INT8 file on this CPU, measured interleaved with the device harness
 * (float, INT8, float, … per round; the estimate is the median over rounds of each round's 10th percentile),
 * once on the wall clock and once on process CPU time, each in its own interleaved pass.
 */
import {
  BenchmarkClock,
  InterleavedResult,
  createBoundSession,
  measureInterleaved,
} from '@edgenas/device-benchmark';

export interface LatencyOptions {
  readonly threads: number;
  readonly rounds: number;
  /** Timed runs per model per round. */
  readonly repeats: number;
}

/** Per clock, the float file's result then the INT8 file's. */
export type FloatInt8Latency = Record<BenchmarkClock, [InterleavedResult, InterleavedResult]>;

export async function measureFloatVsInt8(
  float: Uint8Array,
  int8: Uint8Array,
  inputShape: readonly number[],
  opts: LatencyOptions,
): Promise<FloatInt8Latency> {
  const sessions = [
    await createBoundSession(float, inputShape, { threads: opts.threads }),
    await createBoundSession(int8, inputShape, { threads: opts.threads }),
  ];
  try {
    const measure = async (clock: BenchmarkClock): Promise<[InterleavedResult, InterleavedResult]> => {
      const [f, i] = await measureInterleaved(sessions, {
        clock,
        warmupRuns: 3,
        rounds: opts.rounds,
        minRepeats: opts.repeats,
        maxRepeats: opts.repeats,
        minRoundMs: 0,
      });
      return [f, i];
    };
    const wall = await measure('wall');
    const cpu = await measure('cpu');
    return { wall, cpu };
  } finally {
    for (const s of sessions) await s.release();
  }
}

/** Float over INT8 estimate: above 1, the INT8 file is faster. */
export function floatOverInt8(result: FloatInt8Latency, clock: BenchmarkClock): number {
  return result[clock][0].estimateMs / result[clock][1].estimateMs;
}
