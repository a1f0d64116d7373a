import { crowdingDistance } from './pareto';

/**
 * The `count` members of a search front to retrain stand-alone, spread along it: crowding distance over
 * (accuracy, latency) within `front`, the extremes (Infinity) first, then decreasing distance; equal distances
 * keep front order. All members (in front order) when the front has at most `count`. The result is in
 * selection order, so a shorter prefix is still the best spread of that size.
 */
export function selectFinalists<T extends { readonly accuracy: number; readonly latencyMs: number }>(
  front: readonly T[],
  count: number,
): T[] {
  if (front.length <= count) return [...front];
  if (count <= 0) return [];
  const distance = crowdingDistance(front);
  const order = [...front.keys()].sort((a, b) => {
    if (distance[a] === distance[b]) return a - b;
    return distance[b] - distance[a];
  });
  return order.slice(0, count).map((i) => front[i]);
}

/** Accuracy over seeds of one architecture. */
export interface SeedSummary {
  readonly mean: number;
  /** Sample standard deviation (n − 1); 0 for a single value. */
  readonly sd: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

export function summarizeSeeds(values: readonly number[]): SeedSummary {
  const n = values.length;
  if (n === 0) throw new Error('summarizeSeeds needs at least one value');
  const mean = values.reduce((a, v) => a + v, 0) / n;
  const sd = n === 1 ? 0 : Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  return { mean, sd, min: Math.min(...values), max: Math.max(...values), n };
}

/**
 * Which members cannot be told apart by their seeds. Two members are tied when their mean accuracies differ
 * by less than the larger of their seed ranges (max − min over each one's seeds), or are equal: a difference
 * no larger than one architecture's own seed-to-seed spread says nothing about which is better. The relation
 * is symmetric, not transitive (A~B and B~C does not make A~C). Every member gets an entry, listing the ids it
 * is tied with in input order (empty when none).
 */
export function markTies(
  members: readonly { readonly id: string; readonly seeds: readonly number[] }[],
): Map<string, string[]> {
  const summaries = members.map((m) => summarizeSeeds(m.seeds));
  const ties = new Map<string, string[]>(members.map((m) => [m.id, []]));
  for (let i = 0; i < members.length; i++) {
    for (let j = i + 1; j < members.length; j++) {
      const a = summaries[i];
      const b = summaries[j];
      const gap = Math.abs(a.mean - b.mean);
      const spread = Math.max(a.max - a.min, b.max - b.min);
      if (gap < spread || gap === 0) {
        ties.get(members[i].id)?.push(members[j].id);
        ties.get(members[j].id)?.push(members[i].id);
      }
    }
  }
  return ties;
}
