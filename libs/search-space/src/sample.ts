import { Architecture, layoutLayers } from './architecture';
import { BLOCK_TYPES, BlockType } from './blocks';
import { Cost, blockCost, signatureCost } from './cost';
import { MacroConfig } from './macro-configs';
import { Rng } from './rng';
import { headSignature, stemSignature } from './signature';
import { validChoicesPerLayer } from './validate';

export interface SampleOptions {
  /** Allowed blocks (default: all). */
  readonly blockTypes?: readonly BlockType[];
  /** Upper limit on the whole network's MACs on `config` (see cost.ts for the convention). */
  readonly maxMacs?: number;
  /** Upper limit on the whole network's trainable parameters on `config`. */
  readonly maxParams?: number;
  /** The architecture must also be valid on these configs (e.g. the proxy training geometry). */
  readonly alsoValidFor?: readonly MacroConfig[];
  /** Uniform draws tried before the constructive fallback (default 500). */
  readonly maxAttempts?: number;
}

/** The limits cannot be met by any architecture of the space; says by how much. */
export class SamplingError extends Error {
  override name = 'SamplingError';
}

type Metric = 'macs' | 'params';

interface Limits {
  readonly macs?: number;
  readonly params?: number;
}

/**
 * A seeded random architecture, valid on `config` (and on `alsoValidFor`).
 * Without limits: each layer's block is uniform over the blocks valid there. With MAC/param limits: uniform
 * draws are tried first (so the result is uniform over the feasible set when it is not too small); then a
 * constructive fallback downgrades the costliest layers of the last draw to cheaper blocks, and finally grows
 * the cheapest architecture by random upgrades that stay within the limits. Throws `SamplingError` when the
 * limits are below what the space can reach.
 */
export function sampleArchitecture(config: MacroConfig, rng: Rng, opts: SampleOptions = {}): Architecture {
  const choices = validChoicesPerLayer(config, opts.blockTypes ?? BLOCK_TYPES, opts.alsoValidFor ?? []);
  const limits: Limits = {
    macs: checkLimit('maxMacs', opts.maxMacs),
    params: checkLimit('maxParams', opts.maxParams),
  };
  const draw = () => choices.map((cs) => rng.int(cs.length));
  const toArch = (picks: readonly number[]): Architecture => ({ blocks: picks.map((j, i) => choices[i][j]) });
  if (limits.macs === undefined && limits.params === undefined) return toArch(draw());

  const layers = layoutLayers([], config);
  const table: Cost[][] = choices.map((cs, i) => cs.map((b) => blockCost(b, layers[i])));
  const stem = signatureCost(stemSignature(config));
  const head = signatureCost(headSignature(config));
  const fixed: Cost = { macs: stem.macs + head.macs, params: stem.params + head.params };
  const metrics = (['macs', 'params'] as const).filter((m) => limits[m] !== undefined);
  const total = (picks: readonly number[], m: Metric) =>
    picks.reduce((s, j, i) => s + table[i][j][m], fixed[m]);
  const over = (picks: readonly number[]) => metrics.filter((m) => total(picks, m) > (limits[m] as number));

  for (const m of metrics) {
    const least = table.reduce((s, row) => s + Math.min(...row.map((c) => c[m])), fixed[m]);
    if (least > (limits[m] as number)) {
      const what = m === 'macs' ? 'maxMacs' : 'maxParams';
      throw new SamplingError(
        `${what} ${limits[m]} is below the smallest ${m} any architecture reaches on ${config.name} (${least}, ` +
          `with blocks ${[...new Set(choices.flat())].join(', ')})`,
      );
    }
  }

  const maxAttempts = opts.maxAttempts ?? 500;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new RangeError(`maxAttempts must be a positive integer (got ${maxAttempts})`);
  }
  let picks = draw();
  for (let attempt = 1; over(picks).length > 0 && attempt < maxAttempts; attempt++) picks = draw();
  if (over(picks).length === 0) return toArch(picks);

  // Downgrade: repeatedly move the costliest layer (in the violated metrics, relative to their limits) to a
  // random block that is cheaper there and no costlier in any limited metric, so every step makes progress.
  const weight = (c: Cost, violated: readonly Metric[]) =>
    violated.reduce((s, m) => s + c[m] / (limits[m] as number), 0);
  for (let violated = over(picks); violated.length > 0; violated = over(picks)) {
    let best: { layer: number; weight: number; cheaper: number[] } | undefined;
    for (const i of rng.shuffle(picks.map((_, i) => i))) {
      const current = table[i][picks[i]];
      const w = weight(current, violated);
      const cheaper = table[i]
        .map((c, j) => ({ c, j }))
        .filter(({ c }) => weight(c, violated) < w && metrics.every((m) => c[m] <= current[m]))
        .map(({ j }) => j);
      if (cheaper.length > 0 && (!best || w > best.weight)) best = { layer: i, weight: w, cheaper };
    }
    if (!best) break;
    picks = picks.map((j, i) => (i === best.layer ? rng.pick(best.cheaper) : j));
  }
  if (over(picks).length === 0) return toArch(picks);

  // Grow: start from the cheapest blocks (relative to the limits) and upgrade layers in random order while
  // the limits hold.
  const all = metrics;
  picks = table.map((row) => {
    const ws = row.map((c) => weight(c, all));
    return ws.indexOf(Math.min(...ws));
  });
  if (over(picks).length > 0) {
    const reached = metrics.map((m) => `${m} ${total(picks, m)}`).join(', ');
    throw new SamplingError(
      `no architecture on ${config.name} found within ${metrics.map((m) => `${m} ≤ ${limits[m]}`).join(' and ')} ` +
        `(the cheapest found has ${reached})`,
    );
  }
  for (const i of rng.shuffle(picks.map((_, i) => i))) {
    const j = rng.int(choices[i].length);
    const trial = picks.map((p, l) => (l === i ? j : p));
    if (over(trial).length === 0) picks = trial;
  }
  return toArch(picks);
}

function checkLimit(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive number (got ${value})`);
  }
  return value;
}
