/**
 * Seeded pseudo-random numbers (mulberry32): 32-bit integer arithmetic only, so the same seed gives the same
 * sequence on every platform and inside Temporal workflow code.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n); n a positive integer. */
  int(n: number): number;
  /** A uniformly chosen element of a non-empty list. */
  pick<T>(xs: readonly T[]): T;
  /** A shuffled copy (Fisher–Yates). */
  shuffle<T>(xs: readonly T[]): T[];
  /** An independent generator seeded from this one (advances this one by one step). */
  fork(): Rng;
  /** The internal state: `createRng(rng.state())` continues the same sequence (e.g. across continue-as-new). */
  state(): number;
}

// Bound once: global lookups in hot loops are ~30x slower inside vm sandboxes (jest, Temporal's workflow
// isolate), and weight initialisation draws millions of numbers.
const { imul } = Math;

/** The bare mulberry32 step over a mutable 32-bit state, for hot loops; `createRng` wraps it. */
export function mulberry32(seed: number): { nextUint32: () => number; state: () => number } {
  let a = seed >>> 0;
  return {
    nextUint32: () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = imul(t ^ (t >>> 15), t | 1);
      t ^= t + imul(t ^ (t >>> 7), t | 61);
      return (t ^ (t >>> 14)) >>> 0;
    },
    state: () => a,
  };
}

/** Seeds are reduced to 32 bits (`seed >>> 0`); any finite number is accepted. */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new RangeError(`rng seed must be a finite number, got ${seed}`);
  const source = mulberry32(seed);
  const nextUint32 = source.nextUint32;
  const rng: Rng = {
    next: () => nextUint32() / 4294967296,
    int(n: number): number {
      if (!Number.isInteger(n) || n <= 0) throw new RangeError(`rng.int needs a positive integer, got ${n}`);
      return Math.floor(rng.next() * n);
    },
    pick<T>(xs: readonly T[]): T {
      if (xs.length === 0) throw new RangeError('rng.pick from an empty list');
      return xs[rng.int(xs.length)];
    },
    shuffle<T>(xs: readonly T[]): T[] {
      const out = [...xs];
      for (let i = out.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [out[i], out[j]] = [out[j], out[i]];
      }
      return out;
    },
    fork: () => createRng(nextUint32()),
    state: source.state,
  };
  return rng;
}
