import { mulberry32 } from '@edgenas/search-space';

/**
 * Seeded numbers for splits, shuffles and initial values: search-space's mulberry32 (the project's one
 * PRNG) with a normal draw on top; deterministic across runs.
 */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box–Muller). */
  normal(): number;
}

export function createRandom(seed: number): Random {
  // seed 0 starts from a fixed non-zero state, as it always has, so seeded results do not change
  const { nextUint32 } = mulberry32(seed >>> 0 || 0x9e3779b9);
  const next = (): number => nextUint32() / 4294967296;
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    normal: () => {
      const u = 1 - next();
      const v = next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
  };
}

/** Fisher–Yates shuffle of 0..n−1. */
export function shuffledIndices(n: number, random: Random): Int32Array {
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = random.int(i + 1);
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx;
}

/** 32-bit mix of integers (for seeds derived from (seed, step, …)). */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    h = Math.imul(h ^ (h >>> 12), 0x297a2d39) >>> 0;
  }
  return (h ^ (h >>> 15)) >>> 0;
}
