import { Architecture } from './architecture';
import { BLOCK_TYPES, BlockType } from './blocks';
import { MacroConfig } from './macro-configs';
import { Rng } from './rng';
import { assertValidArchitecture, stageStarts, validChoicesPerLayer } from './validate';

export interface MutationOptions {
  /** Probability that a layer is redrawn (default 1 / layer count); at least one layer always changes. */
  readonly rate?: number;
  /** Blocks a changed layer may take (default: all). Unchanged layers keep their block. */
  readonly blockTypes?: readonly BlockType[];
  /** Changed layers must also be valid on these configs (e.g. the proxy geometry). */
  readonly alsoValidFor?: readonly MacroConfig[];
}

/** A mutated copy: each layer is redrawn with probability `rate` to a different valid block. */
export function mutateArchitecture(
  arch: Architecture,
  config: MacroConfig,
  rng: Rng,
  opts: MutationOptions = {},
): Architecture {
  assertValidArchitecture(arch, config);
  const choices = validChoicesPerLayer(config, opts.blockTypes ?? BLOCK_TYPES, opts.alsoValidFor ?? []);
  const rate = opts.rate ?? 1 / choices.length;
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`mutation rate must be in [0, 1] (got ${rate})`);
  const alternatives = choices.map((cs, i) => cs.filter((b) => b !== arch.blocks[i]));
  const mutable = alternatives.map((a, i) => (a.length > 0 ? i : -1)).filter((i) => i >= 0);
  if (mutable.length === 0) {
    throw new RangeError(`no layer of ${config.name} has an alternative block: nothing to mutate`);
  }
  const blocks = arch.blocks.map((b, i) =>
    alternatives[i].length > 0 && rng.next() < rate ? rng.pick(alternatives[i]) : b,
  );
  if (blocks.every((b, i) => b === arch.blocks[i])) {
    const i = rng.pick(mutable);
    blocks[i] = rng.pick(alternatives[i]);
  }
  return { blocks };
}

export interface CrossoverOptions {
  /** 'uniform': each layer from either parent; 'stage': each stage from either parent (default 'uniform'). */
  readonly mode?: 'uniform' | 'stage';
}

/**
 * A child taking each layer (or stage) from one of two parents valid on `config`. All validity rules are per
 * layer, so the child is valid too.
 */
export function crossoverArchitectures(
  a: Architecture,
  b: Architecture,
  config: MacroConfig,
  rng: Rng,
  opts: CrossoverOptions = {},
): Architecture {
  assertValidArchitecture(a, config);
  assertValidArchitecture(b, config);
  const mode = opts.mode ?? 'uniform';
  if (mode === 'uniform') return { blocks: a.blocks.map((x, i) => (rng.next() < 0.5 ? x : b.blocks[i])) };
  if (mode !== 'stage') throw new RangeError(`unknown crossover mode "${String(mode)}"`);
  const starts = stageStarts(config);
  const fromA = config.stages.map(() => rng.next() < 0.5);
  return {
    blocks: a.blocks.map((x, i) => {
      let stage = starts.length - 1;
      while (starts[stage] > i) stage--;
      return fromA[stage] ? x : b.blocks[i];
    }),
  };
}
